"""API key shapes (quilt-api §3.18)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from quilt.wire.common import Request


class CreateApiKey(Request):
    """`POST /api/api-keys` body."""

    name: str = Field(default="key", min_length=1, max_length=100)


class ApiKey(BaseModel):
    """A key as listed: never the secret."""

    id: str
    name: str
    prefix: str
    tenant_id: str
    created_at: str
    last_used_at: str | None = None


class CreatedApiKey(ApiKey):
    """A freshly minted key: the only time the secret is shown."""

    key: str


class ApiKeyList(BaseModel):
    """`GET /api/api-keys`."""

    api_keys: list[ApiKey]
