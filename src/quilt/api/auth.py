"""Authentication at the edge: `X-Api-Key`, `Authorization: Bearer`, or `?token=` for streams."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from quilt.engine.api_keys import Principal
from quilt.errors import BadRequest, Forbidden

if TYPE_CHECKING:
    from quilt.engine.platform import Platform


def platform(request: HTTPConnection) -> Platform:
    """The platform this app serves."""
    return request.app.state.platform  # type: ignore[no-any-return]


def credential(request: HTTPConnection) -> str | None:
    """The credential the request carries, by precedence: X-Api-Key, Bearer, ?token=."""
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.query_params.get("token")


async def principal(request: Request) -> Principal:
    """Resolve the caller to a tenant (401 if missing or invalid).

    Async on purpose: a sync dependency would cost every request a hop to the thread pool,
    and the lookup is a dictionary hit after a key's first use.
    """
    return platform(request).api_keys.authenticate(credential(request))


Caller = Annotated[Principal, Depends(principal)]


async def tenant_scoped(request: Request, caller: Caller) -> Principal:
    """The caller, on routes that also require `X-Tenant-Id` equal to the caller's tenant.

    Snapshot, clone, pin and fork routes insist on it: a missing header is a 400 and a
    different tenant a 403, checked before the body is looked at. With
    `QUILT_TENANT_HEADER=optional` a missing header means the caller's tenant (for clients
    that never send it); a different tenant is still a 403.
    """
    claimed = request.headers.get("x-tenant-id", "").strip()
    if not claimed:
        if platform(request).settings.tenant_header == "optional":
            return caller
        raise BadRequest(
            "the X-Tenant-Id header is required on snapshot and fork routes",
            details={"expected": ["X-Tenant-Id: <your tenant id>"]},
            hint=f"send X-Tenant-Id: {caller.tenant_id}",
        )
    if claimed != caller.tenant_id:
        raise Forbidden(
            "X-Tenant-Id does not match the tenant of this API key",
            details={"reason_code": "TENANT_ISOLATION_VIOLATION", "received": claimed},
        )
    return caller


TenantCaller = Annotated[Principal, Depends(tenant_scoped)]
