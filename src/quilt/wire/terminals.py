"""Terminal session shapes (quilt-api §3.9)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from quilt.wire.common import Request


class CreateSession(Request):
    """`POST /api/terminal/sessions` body."""

    container_id: str
    cols: int = 80
    rows: int = 24
    shell: str | None = Field(default=None, description="default: /bin/bash, /bin/sh on busybox")
    target: str = "container"


class Resize(Request):
    """`POST /api/terminal/sessions/<id>/resize` body."""

    cols: int
    rows: int


class Session(BaseModel):
    """A terminal session as every route shows it."""

    session_id: str
    container_id: str
    target: str
    state: str
    shell: str
    cols: int
    rows: int
    pid: int
    attach_url: str
    created_at: str
    expires_at: str
    idle_timeout_seconds: float
    attached_clients: int
    exit_code: int | None
    exit_signal: int | None


class SessionList(BaseModel):
    """`GET /api/terminal/sessions`."""

    sessions: list[Session]
