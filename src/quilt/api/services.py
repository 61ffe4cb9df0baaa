"""Routes of the services concern (quilt-api §3.10): publish, list, inspect, unpublish."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request

from quilt.api import views
from quilt.api.auth import Caller, platform
from quilt.wire.common import Success
from quilt.wire.services import CreateService, Service, ServiceList

if TYPE_CHECKING:
    from quilt.domain.records import ServiceRecord

router = APIRouter(tags=["services"])


def _view(request: Request, service: ServiceRecord) -> Service:
    p = platform(request)
    return views.service(service, views.public_base(request), p.services.token(service))


@router.post(
    "/api/containers/{container_id}/services",
    status_code=201,
    response_model=Service,
    summary="Publish a container port",
)
async def create(
    request: Request, container_id: str, body: CreateService, caller: Caller
) -> Service:
    """Publish a port the app already listens on; use the returned public_url as it is."""
    service = platform(request).services.create(
        caller.tenant_id,
        container_id,
        name=body.name,
        target_port=body.target_port,
        protocol=body.protocol,
        enable_websockets=body.enable_websockets,
        auth_mode=body.auth_mode,
        ttl_secs=body.ttl_secs,
    )
    return _view(request, service)


@router.get(
    "/api/containers/{container_id}/services",
    response_model=ServiceList,
    summary="A container's published services",
)
async def list_(request: Request, container_id: str, caller: Caller) -> ServiceList:
    """Every service of the container, oldest first."""
    services = platform(request).services.list(caller.tenant_id, container_id)
    return ServiceList(services=[_view(request, s) for s in services])


@router.get("/api/services/{service_id}", response_model=Service, summary="A published service")
async def get(request: Request, service_id: str, caller: Caller) -> Service:
    """Its state (pending, ready, target_unreachable, expired, error) and URLs."""
    return _view(request, platform(request).services.get(caller.tenant_id, service_id))


@router.delete("/api/services/{service_id}", response_model=Success, summary="Unpublish a service")
async def delete(request: Request, service_id: str, caller: Caller) -> Success:
    """The ingress refuses the service's URLs from now on."""
    platform(request).services.delete(caller.tenant_id, service_id)
    return Success()
