"""Typed results: the server's JSON, field for field, as pydantic models.

Every model keeps unknown fields (`extra="allow"`), so a newer server never breaks an older
client; wire names are kept as they are. Nothing here talks to the network.
"""

from __future__ import annotations

import base64
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

TERMINAL_STATUSES: Final = frozenset({"succeeded", "failed", "cancelled", "canceled", "timed_out"})


class Model(BaseModel):
    """Base of every result: unknown fields are kept, not refused."""

    model_config = ConfigDict(extra="allow")


# -- operations --------------------------------------------------------------------------


class Receipt(Model):
    """The answer of a 202 route: the work goes on; follow it with `operations.wait()`."""

    success: bool = True
    operation_id: str
    status_url: str = ""


class Phase(Model):
    """One step of an operation and how long it took."""

    name: str
    started_at: str | None = None
    duration_ms: float = 0


class Operation(Model):
    """An operation record: status, result or error, and the timing of each phase."""

    operation_id: str
    operation_type: str = ""
    status: str = Field(description="accepted, queued, running, succeeded, failed, ...")
    message: str | None = None
    target_resource_type: str | None = None
    target_resource_id: str | None = None
    container_id: str | None = None
    snapshot_id: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    reason_code: str | None = None
    reason_message: str | None = None
    items: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    phases: list[Phase] = Field(default_factory=list)
    progress_pct: float = 0
    created_at: str | None = None
    started_at: str | None = None
    updated_at: str | None = None
    completed_at: str | None = None

    @property
    def done(self) -> bool:
        """Whether the operation has ended (in any way)."""
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        """Whether the operation ended well."""
        return self.status == "succeeded"


class Success(Model):
    """A plain acknowledgement."""

    success: bool = True
    message: str | None = None


# -- containers ---------------------------------------------------------------------------


class Checks(Model):
    """The individual readiness probes."""

    state_running: bool = False
    minit_responsive: bool = False
    network_configured: bool = False
    managed_image_valid: bool = False
    gui_backend_reachable: bool | None = None


class Container(Model):
    """A container's runtime status (create, detail and list all show this; never the spec)."""

    container_id: str
    tenant_id: str | None = None
    name: str
    state: str = Field(description="created, starting, running, stopped, exited or error")
    pid: int | None = None
    exit_code: int | None = None
    ip_address: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    exited_at: str | None = None
    working_directory: str | None = None
    memory_limit_mb: int | None = None
    cpu_limit_percent: float | None = None
    strict: bool = False
    gpu_count: int = 0
    gpu_ids: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    exec_ready: bool = False
    network_ready: bool = False
    gui_ready: bool | None = Field(default=None, description="None: the image has no GUI")
    checks: Checks = Field(default_factory=Checks)


class Readiness(Model):
    """Whether a container can take specific work now (`exec_ready` gates exec)."""

    container_id: str
    state: str
    exec_ready: bool
    network_ready: bool
    gui_ready: bool | None = None
    checks: Checks = Field(default_factory=Checks)


class Metrics(Model):
    """CPU, memory and pids as the container's cgroups account them."""

    container_id: str
    state: str
    timestamp: str | None = None
    cpu_usage_usec: int = 0
    cpu_user_usec: int = 0
    cpu_system_usec: int = 0
    cpu_throttled_usec: int = 0
    cpu_limit_percent: float | None = None
    memory_current_bytes: int = 0
    memory_peak_bytes: int = 0
    memory_limit_bytes: int = 0
    memory_cache_bytes: int = 0
    memory_rss_bytes: int = 0
    pids_current: int = 0
    pids_limit: int = 0


class LogEntry(Model):
    """One line the main command wrote."""

    timestamp: str | None = None
    stream: str = Field(description="stdout or stderr")
    message: str


class Renamed(Model):
    """A container's new name (rename, and DNS entry rename)."""

    success: bool = True
    container_id: str
    old_name: str
    new_name: str
    dns_updated: bool = True


class Deleted(Model):
    """A deleted container; `cleanup_pending` names what is still released in the background."""

    success: bool = True
    container_id: str
    message: str | None = None
    cleanup_pending: list[str] = Field(default_factory=list)


# -- exec -----------------------------------------------------------------------------------


class ExecResult(Model):
    """The final result of an exec; a non-zero `exit_code` is a result, not an error."""

    container_id: str
    exit_code: int
    stdout: str
    stderr: str
    execution_time_ms: int = 0
    timed_out: bool = False
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    job_id: str | None = Field(default=None, description="legacy: the finished job's id")
    status: str | None = Field(default=None, description="legacy job status")
    status_url: str | None = Field(default=None, description="legacy: the job's URL")


class StreamFrame(Model):
    """One NDJSON frame of a streamed command: started, stdout, stderr, timeout, exit or error."""

    type: str
    container_id: str | None = None
    pid: int | None = None
    data_b64: str | None = None
    code: int | None = None
    signal: int | None = None
    timed_out: bool | None = None
    elapsed_ms: int | None = None
    message: str | None = None

    @property
    def data(self) -> bytes:
        """The output bytes of a stdout or stderr frame (empty for the others)."""
        return base64.b64decode(self.data_b64) if self.data_b64 else b""


class ProcessInfo(Model):
    """One process inside the container, numbered as its own pid namespace sees it."""

    pid: int
    ppid: int = 0
    command: str = ""
    args: list[str] = Field(default_factory=list)
    state: str = ""
    rss_bytes: int = 0


class Signalled(Model):
    """The signal sent to a process."""

    success: bool = True
    pid: int
    signal: str


# -- snapshots and forks --------------------------------------------------------------------


class IncludedVolume(Model):
    """A volume whose files a snapshot holds, at the path it was mounted on."""

    name: str
    target: str


class Snapshot(Model):
    """A captured filesystem of a container."""

    snapshot_id: str
    id: str | None = None
    source_container_id: str | None = None
    source_container_name: str | None = None
    container_id: str | None = None
    parent_snapshot_id: str | None = None
    image: str | None = None
    created_at: str | None = None
    expires_at: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    pinned: bool = False
    ttl_seconds: int | None = None
    size_bytes: int | None = None
    consistency_mode: str | None = None
    network_mode: str | None = None
    volume_mode: str | None = None
    volumes_included: list[IncludedVolume] = Field(default_factory=list)


class LineageNode(Model):
    """One snapshot in a lineage walk (depth 0 is the snapshot asked about)."""

    snapshot_id: str
    parent_snapshot_id: str | None = None
    container_id: str | None = None
    source_container_name: str | None = None
    created_at: str | None = None
    depth: int = 0


class CloneNode(Model):
    """A container cloned from a snapshot."""

    container_id: str
    name: str
    state: str


class Lineage(Model):
    """A snapshot's ancestors (`nodes`), the snapshots taken on top of it, and its clones."""

    snapshot_id: str
    image: str | None = None
    source_container_id: str | None = None
    source_container_name: str | None = None
    nodes: list[LineageNode] = Field(default_factory=list)
    children: list[LineageNode] = Field(default_factory=list)
    clones: list[CloneNode] = Field(default_factory=list)


class SnapshotDeleted(Model):
    """A deleted snapshot."""

    success: bool = True
    snapshot_id: str
    message: str | None = None


# -- volumes --------------------------------------------------------------------------------


class Volume(Model):
    """Named data that outlives containers."""

    volume_id: str | None = None
    name: str
    driver: str = "local"
    labels: dict[str, str] = Field(default_factory=dict)
    size_limit_mb: int | None = None
    mount_point: str | None = None
    status: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class Attachment(Model):
    """A container that attaches a volume."""

    container_id: str
    name: str
    state: str
    target: str
    read_only: bool = False


class VolumeInspect(Volume):
    """A volume, the bytes its files take, and the containers that attach it."""

    size_bytes: int = 0
    attached_containers: list[Attachment] = Field(default_factory=list)


class VolumeRenamed(Model):
    """A volume's new name."""

    success: bool = True
    name: str
    new_name: str


class FileEntry(Model):
    """One file, directory or link in a volume."""

    name: str
    path: str
    type: str = Field(description="file, directory, symlink or other")
    is_dir: bool = False
    size: int = 0
    mode: str = Field(default="", description="permission bits in octal, e.g. 0644")
    modified_at: str | None = None
    link_target: str | None = None


class FileList(Model):
    """One page of a directory's entries, by name."""

    path: str
    files: list[FileEntry]
    page: int = 1
    page_size: int = 0
    total: int = 0


class FileRemoved(Model):
    """A deleted file, link or directory."""

    success: bool = True
    path: str
    type: str | None = None
