"""Published service shapes (quilt-api §3.10)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from quilt.wire.common import Request


class CreateService(Request):
    """`POST /api/containers/<id>/services` body."""

    name: str
    target_port: int = Field(description="the port the app already listens on")
    protocol: str = "http"
    enable_websockets: bool = True
    auth_mode: str = Field(default="service_token", description="service_token or public")
    ttl_secs: int | None = Field(default=None, description="lifetime; none: until deleted")


class Service(BaseModel):
    """A published service."""

    service_id: str
    container_id: str
    name: str
    target_port: int
    protocol: str
    enable_websockets: bool
    auth_mode: str
    public_url: str
    websocket_url: str | None
    status: str
    ttl_secs: int | None
    created_at: int
    updated_at: int
    expires_at: int | None


class ServiceList(BaseModel):
    """`GET /api/containers/<id>/services`."""

    services: list[Service]
