"""The Node interface: everything the engine may ask of a host.

LocalNode implements it on this host; a cluster adds a remote implementation of the same
protocol.
The engine never runs a command or touches the kernel itself; it calls these methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Final, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
    from datetime import datetime

    from quilt.domain.readiness import Checks
    from quilt.domain.records import PhaseRecord
    from quilt.drivers.runtime.cgroups import Usage
    from quilt.drivers.runtime.minit import Event, ExecOutcome, Terminal
    from quilt.drivers.storage.files import Tree
    from quilt.node.network import HostNetwork


# What a container holds on the host, in the order `remove` releases it.
RESOURCES: Final = ("container", "network", "mounts", "rootfs", "logs")


@dataclass(frozen=True)
class Upload:
    """A request body staged on the node, and its size."""

    token: str
    size: int
    head: bytes  # its first bytes, to tell what it is without reading it again


@dataclass(frozen=True)
class VolumeAttachment:
    """A volume mounted into a container at `target`."""

    volume_id: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class LaunchSpec:
    """What a container is to run: the parts of the create request the host needs."""

    image: str
    command: tuple[str, ...] | None
    environment: Mapping[str, str]
    working_directory: str
    memory_limit_mb: int
    cpu_limit_percent: float
    strict: bool
    container_id: str | None = None  # None: the node picks (a warm pool member's id, or new)
    base_layer: str | None = None  # start the writable layer as a copy of this captured layer
    volumes: tuple[VolumeAttachment, ...] = ()
    network_group: str | None = None  # who it may reach on the bridge (its tenant); None: no one
    routes: tuple[str, ...] = ()  # CIDRs routed via the gateway inside the container


@dataclass(frozen=True)
class Launched:
    """A container the node has started."""

    container_id: str
    pid: int
    ip_address: str
    started_at: datetime
    from_pool: bool
    phases: list[PhaseRecord] = field(default_factory=list)


@dataclass(frozen=True)
class Prepared:
    """A container whose filesystem and address exist but which has not run yet."""

    container_id: str
    ip_address: str


@dataclass(frozen=True)
class Captured:
    """A read-only copy of a container's writable layer, and how long the container was paused."""

    layer: str
    pause_ms: float
    phases: list[PhaseRecord] = field(default_factory=list)


@dataclass(frozen=True)
class LogLine:
    """One record of the main command's output."""

    timestamp: datetime
    stream: Literal["stdout", "stderr"]
    message: str


@dataclass(frozen=True)
class ProcessEntry:
    """A process inside a container, numbered as the container sees it."""

    pid: int
    ppid: int
    command: str
    args: list[str]
    state: str
    rss_bytes: int


@dataclass(frozen=True)
class ComponentHealth:
    """One thing the node depends on, and whether it works right now."""

    name: str
    ok: bool
    detail: str


class Node(Protocol):
    """A host that runs containers."""

    name: str
    network: HostNetwork

    async def launch(self, spec: LaunchSpec, *, allow_pool: bool) -> Launched:
        """Create the filesystem and network and start the container (warm or cold)."""
        ...

    async def prepare(self, spec: LaunchSpec) -> Prepared:
        """Create the filesystem and allocate the address, without running anything yet."""
        ...

    async def capture(
        self,
        container_id: str,
        layer: str,
        *,
        flush: bool,
        volumes: Sequence[VolumeAttachment] = (),
    ) -> Captured:
        """Freeze the container (if running), copy its writable layer read-only, thaw it.

        `volumes` are copied into the layer at their mount paths.
        """
        ...

    def create_volume(self, volume_id: str, size_limit_bytes: int | None) -> None:
        """Make an empty volume in the storage pool, capped at `size_limit_bytes` if given."""
        ...

    def volume_files(self, volume_id: str) -> Tree:
        """The volume's files, confined to it (the caller closes the tree)."""
        ...

    def container_files(self, container_id: str) -> Tree:
        """The running container's files as it sees them, mounts included, confined to it."""
        ...

    async def stage_upload(self, chunks: AsyncIterator[bytes], limit_bytes: int) -> Upload:
        """Keep a request body on disk until it is used; too big → PayloadTooLarge."""
        ...

    def open_upload(self, upload: Upload) -> BinaryIO:
        """Read a staged body from its start."""
        ...

    def drop_upload(self, upload: Upload) -> None:
        """Forget a staged body (idempotent)."""
        ...

    def clear_uploads(self) -> list[str]:
        """Forget every staged body (at start, none has an owner); the tokens forgotten."""
        ...

    def remove_volume(self, volume_id: str) -> None:
        """Delete a volume and its data (idempotent)."""
        ...

    async def volume_usage(self, volume_id: str) -> int:
        """Bytes a volume's files take."""
        ...

    def snapshot_layer(self, snapshot_id: str) -> str:
        """Where a snapshot's captured layer lives."""
        ...

    def capture_layer(self, token: str) -> str:
        """Where a transient capture (a fork's source) lives."""
        ...

    def drop_layer(self, layer: str) -> None:
        """Delete a captured layer (idempotent)."""
        ...

    async def layer_size(self, layer: str) -> int:
        """Bytes a captured layer's changes take."""
        ...

    def stored_layers(self, kind: Literal["snapshots", "captures", "volumes"]) -> set[str]:
        """Names of the captured layers of one kind that exist on the host."""
        ...

    async def relaunch(self, container_id: str, spec: LaunchSpec, address: str) -> Launched:
        """Start a stopped container again on its kept filesystem and address."""
        ...

    async def stop(self, container_id: str, grace_seconds: float) -> None:
        """SIGTERM, wait up to the grace period, then SIGKILL; return once it is gone."""
        ...

    async def kill(self, container_id: str) -> None:
        """SIGKILL the container and return once it is gone."""
        ...

    async def remove(self, container_id: str) -> None:
        """Tear everything of the container down (idempotent); raise if something stayed."""
        ...

    async def release(self, container_id: str, resource: str) -> int | None:
        """Release one of `RESOURCES` of the container (idempotent); the bytes it freed."""
        ...

    async def wait_exit(self, container_id: str) -> None:
        """Return when the container's init has exited."""
        ...

    def exit_code(self, container_id: str) -> int | None:
        """The main command's exit code, if minit recorded one."""
        ...

    def init_pid(self, container_id: str) -> int | None:
        """Host pid of the container's init if it is running."""
        ...

    async def exec(
        self,
        container_id: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str,
        *,
        timeout_ms: int | None,
        output_limit: int,
    ) -> ExecOutcome:
        """Run a command inside the container to completion."""
        ...

    async def terminal(
        self,
        container_id: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str,
        *,
        cols: int,
        rows: int,
    ) -> Terminal:
        """Start a program on a new terminal inside the container."""
        ...

    def stream(
        self,
        container_id: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str,
        *,
        timeout_ms: int | None,
    ) -> AsyncGenerator[Event, None]:
        """Run a command and yield its events as they happen."""
        ...

    async def probe(self, container_id: str, image: str, address: str | None) -> Checks:
        """Observe the readiness checks for real."""
        ...

    def usage(self, container_id: str) -> Usage:
        """Resource usage from the container's cgroups."""
        ...

    def logs(self, container_id: str, limit: int) -> list[LogLine]:
        """The newest `limit` lines of the main command's output."""
        ...

    def processes(self, container_id: str) -> list[ProcessEntry]:
        """The container's processes."""
        ...

    async def signal_process(self, container_id: str, pid: int, sig: int) -> int:
        """Signal one process by its in-container pid; return errno (0 = delivered)."""
        ...

    def hosted(self) -> set[str]:
        """Ids of every container this node has anything of on the host."""
        ...

    async def health(self) -> list[ComponentHealth]:
        """Whether each component works right now."""
        ...
