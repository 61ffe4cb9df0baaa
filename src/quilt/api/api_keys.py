"""Routes of the api-keys concern (quilt-api §3.18): mint, list, revoke the caller's keys."""

from __future__ import annotations

from fastapi import APIRouter, Request

from quilt.api.auth import Caller, platform
from quilt.domain.records import ApiKeyRecord, rfc3339
from quilt.wire.apikeys import ApiKey, ApiKeyList, CreateApiKey, CreatedApiKey
from quilt.wire.common import Success

router = APIRouter(prefix="/api/api-keys", tags=["api-keys"])


def _key(record: ApiKeyRecord) -> dict[str, str | None]:
    return {
        "id": record.key_id,
        "name": record.name,
        "prefix": record.prefix,
        "tenant_id": record.tenant_id,
        "created_at": rfc3339(record.created_at),
        "last_used_at": rfc3339(record.last_used_at),
    }


@router.get("", response_model=ApiKeyList, summary="List keys")
async def list_keys(request: Request, caller: Caller) -> ApiKeyList:
    """The caller's tenant's live keys (never their secrets)."""
    records = platform(request).api_keys.list(caller.tenant_id)
    return ApiKeyList(api_keys=[ApiKey.model_validate(_key(r)) for r in records])


@router.post("", status_code=201, response_model=CreatedApiKey, summary="Mint a key")
async def create(request: Request, body: CreateApiKey, caller: Caller) -> CreatedApiKey:
    """Mint a key for the caller's tenant; the secret is in this answer only."""
    record, secret = platform(request).api_keys.mint(caller.tenant_id, body.name)
    return CreatedApiKey.model_validate({**_key(record), "key": secret})


@router.delete("/{key_id}", response_model=Success, summary="Revoke a key")
async def revoke(request: Request, key_id: str, caller: Caller) -> Success:
    """Revoke one of the caller's tenant's keys; it stops working at once."""
    platform(request).api_keys.revoke(caller.tenant_id, key_id)
    return Success(message=f"API key {key_id} revoked")
