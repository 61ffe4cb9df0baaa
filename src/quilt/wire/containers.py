"""Container requests and responses (quilt-api §3.1)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from quilt.wire.common import Request


class CreateContainer(Request):
    """`POST /api/containers` body; `name` is the only required field."""

    name: str
    image: str | None = None
    oci: bool = False
    command: list[str] | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    working_directory: str | None = None
    volumes: list[str] = Field(default_factory=list)
    memory_limit_mb: int | None = None
    cpu_limit_percent: float | None = None
    strict: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    gpu_count: int = 0
    gpu_ids: list[str] = Field(default_factory=list)
    async_mode: Any = Field(default=None, description="deprecated; rejected when present")

    @field_validator("async_mode")
    @classmethod
    def _reject_async_mode(cls, value: Any) -> Any:
        if value is not None:
            msg = "`async_mode` is no longer supported: create is synchronous"
            raise ValueError(msg)
        return value


class BatchCreate(Request):
    """`POST /api/containers/batch` body."""

    items: list[CreateContainer] = Field(min_length=1, max_length=100)


class Rename(Request):
    """`POST …/rename` body: `new_name` per the docs, `name` as the SDK sends it."""

    new_name: str | None = None
    name: str | None = None


class Checks(BaseModel):
    """The individual readiness probes."""

    state_running: bool
    minit_responsive: bool
    network_configured: bool
    managed_image_valid: bool
    gui_backend_reachable: bool | None = None


class Readiness(BaseModel):
    """`GET …/ready`."""

    container_id: str
    state: str
    exec_ready: bool
    network_ready: bool
    gui_ready: bool | None = Field(default=None, description="null: the image has no GUI")
    checks: Checks


class ContainerStatus(BaseModel):
    """Create response, detail and list item: runtime status, never the create spec."""

    container_id: str
    tenant_id: str
    name: str
    state: str
    pid: int | None
    exit_code: int | None
    ip_address: str | None
    created_at: str
    started_at: str | None
    exited_at: str | None
    working_directory: str
    memory_limit_mb: int
    cpu_limit_percent: float
    strict: bool
    gpu_count: int
    gpu_ids: list[str]
    labels: dict[str, str]
    exec_ready: bool
    network_ready: bool
    gui_ready: bool | None = Field(default=None, description="null: the image has no GUI")
    checks: Checks


class ContainerList(BaseModel):
    """`GET /api/containers`."""

    containers: list[ContainerStatus]


class ByName(BaseModel):
    """`GET /api/containers/by-name/<name>`."""

    container_id: str
    found: bool = True


class Renamed(BaseModel):
    """Rename response."""

    success: bool = True
    container_id: str
    old_name: str
    new_name: str
    dns_updated: bool = True


class Deleted(BaseModel):
    """Delete response."""

    success: bool = True
    container_id: str
    message: str = "Container removed successfully"
    cleanup_pending: list[str] = Field(
        default_factory=list,
        description="resources not yet released; retried in the background (see /cleanup/tasks)",
    )


class Metrics(BaseModel):
    """`GET …/metrics`: read from the container's cgroups at request time."""

    container_id: str
    state: str
    timestamp: str
    cpu_usage_usec: int
    cpu_user_usec: int
    cpu_system_usec: int
    cpu_throttled_usec: int
    cpu_limit_percent: float
    memory_current_bytes: int
    memory_peak_bytes: int
    memory_limit_bytes: int
    memory_cache_bytes: int
    memory_rss_bytes: int
    pids_current: int
    pids_limit: int


class LogEntry(BaseModel):
    """One line of the main command's output."""

    timestamp: str
    stream: Literal["stdout", "stderr"]
    message: str


class Logs(BaseModel):
    """`GET …/logs`."""

    container_id: str
    logs: list[LogEntry]
