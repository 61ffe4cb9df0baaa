"""The blocking client's collections, one per concern: each method sends one `_calls` call.

Nothing here builds a path or a body; `tests/sdk/test_surface.py` keeps these signatures
equal to `_async_resources`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Unpack

from quilt.sdk import _core as core
from quilt.sdk._access_calls import (
    EventCalls,
    NetworkCalls,
    ServiceCalls,
    TerminalCalls,
)
from quilt.sdk._account_calls import (
    ActivityCalls,
    ApiKeyCalls,
    CleanupCalls,
    GuideCalls,
    NotificationCalls,
    SystemCalls,
)
from quilt.sdk._calls import (
    ContainerCalls,
    EnvCalls,
    FileCalls,
    ForkCalls,
    OperationCalls,
    SnapshotCalls,
    VolumeCalls,
)
from quilt.sdk._terminal import TerminalConnection, attach_url

if TYPE_CHECKING:
    import builtins
    import contextlib
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from quilt.sdk._access import (
        Allocations,
        ContainerNetwork,
        DnsEntry,
        Egress,
        NetworkDiagnostics,
        NetworkSetup,
        RouteChange,
        Service,
        TerminalSession,
    )
    from quilt.sdk._account import (
        ActivityEntry,
        ApiKey,
        CleanupStatus,
        CleanupTask,
        ConcernExamples,
        ConcernHealth,
        ConcernHelp,
        CreatedApiKey,
        Event,
        ForcedCleanup,
        Health,
        MarkedRead,
        Notification,
        NotificationList,
        SystemInfo,
    )
    from quilt.sdk._client import Wire
    from quilt.sdk._models import (
        Container,
        Deleted,
        ExecResult,
        FileEntry,
        FileList,
        FileRemoved,
        Lineage,
        LogEntry,
        Metrics,
        Operation,
        ProcessInfo,
        Readiness,
        Receipt,
        Renamed,
        Signalled,
        Snapshot,
        SnapshotDeleted,
        StreamFrame,
        Success,
        Volume,
        VolumeInspect,
        VolumeRenamed,
    )
    from quilt.sdk._params import (
        CloneOptions,
        ContainerSpec,
        ForkOptions,
        NewContainer,
        ServiceOptions,
        SessionOptions,
        SnapshotOptions,
        VolumeOptions,
    )

DEFAULT_WAIT = 60.0


class Resource:
    """A collection of one concern's routes, sending over the client's wire."""

    def __init__(self, wire: Wire) -> None:
        self._wire = wire


class Env(Resource):
    """`client.containers.env`: the environment new execs receive (GET, PUT, PATCH)."""

    def get(self, container_id: str) -> dict[str, str]:
        """The container's environment."""
        return self._wire.send(EnvCalls.get(container_id))

    def set(self, container_id: str, environment: Mapping[str, str]) -> dict[str, str]:
        """Replace the whole environment (keys not given are removed); returns it."""
        return self._wire.send(EnvCalls.set(container_id, environment))

    def patch(self, container_id: str, environment: Mapping[str, str]) -> dict[str, str]:
        """Add or update keys, keeping the others; returns the whole environment."""
        return self._wire.send(EnvCalls.patch(container_id, environment))


class Containers(Resource):
    """`client.containers`: create, inspect, stop, start, delete, exec."""

    def __init__(self, wire: Wire) -> None:
        super().__init__(wire)
        self.env = Env(wire)

    def create(self, name: str, **spec: Unpack[ContainerSpec]) -> Container:
        """Create and start a container; returns once it runs and is probed."""
        return self._wire.send(ContainerCalls.create(name, **spec))

    def list(self, state: str | None = None) -> builtins.list[Container]:
        """The tenant's containers, optionally in one state."""
        return self._wire.send(ContainerCalls.list(state))

    def get(self, container_id: str) -> Container:
        """A container's runtime status and readiness."""
        return self._wire.send(ContainerCalls.get(container_id))

    def by_name(self, name: str) -> str:
        """The id of the tenant's container with this name (NotFound if none)."""
        return self._wire.send(ContainerCalls.by_name(name))

    def ready(self, container_id: str) -> Readiness:
        """Probe whether the container can take work now."""
        return self._wire.send(ContainerCalls.ready(container_id))

    def metrics(self, container_id: str) -> Metrics:
        """CPU, memory and pids from the container's cgroups."""
        return self._wire.send(ContainerCalls.metrics(container_id))

    def logs(self, container_id: str, limit: int | None = None) -> builtins.list[LogEntry]:
        """The newest lines the main command wrote."""
        return self._wire.send(ContainerCalls.logs(container_id, limit))

    def rename(self, container_id: str, new_name: str) -> Renamed:
        """Give the container a new name."""
        return self._wire.send(ContainerCalls.rename(container_id, new_name))

    def stop(self, container_id: str) -> Container:
        """Stop gracefully (TERM, grace, KILL); returns the stopped status."""
        return self._wire.send(ContainerCalls.stop(container_id))

    def kill(self, container_id: str) -> Container:
        """Kill at once; returns the stopped status."""
        return self._wire.send(ContainerCalls.kill(container_id))

    def start(self, container_id: str) -> Receipt:
        """Run a stopped container again (an operation: pass the receipt to `wait`)."""
        return self._wire.send(ContainerCalls.start(container_id))

    def resume(self, container_id: str) -> Receipt:
        """Like start (an operation)."""
        return self._wire.send(ContainerCalls.resume(container_id))

    def delete(self, container_id: str) -> Deleted:
        """Tear the container down; returns once nothing of it is left."""
        return self._wire.send(ContainerCalls.delete(container_id))

    def batch(self, items: Sequence[NewContainer]) -> Receipt:
        """Create several containers in one operation."""
        return self._wire.send(ContainerCalls.batch(items))

    def exec(
        self,
        container_id: str,
        command: Sequence[str],
        *,
        workdir: str | None = None,
        timeout_ms: int | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> ExecResult:
        """Run argv to completion; a non-zero exit code is a result, not an error."""
        call = ContainerCalls.exec(
            container_id,
            command,
            workdir=workdir,
            timeout_ms=timeout_ms,
            environment=environment,
        )
        return self._wire.send(call)

    def stream(
        self,
        container_id: str,
        command: Sequence[str],
        *,
        working_directory: str | None = None,
        timeout_ms: int | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> contextlib.AbstractContextManager[Iterator[StreamFrame]]:
        """Run argv and read its frames as they come: `with ….stream(...) as frames:`."""
        call = ContainerCalls.stream(
            container_id,
            command,
            working_directory=working_directory,
            timeout_ms=timeout_ms,
            environment=environment,
        )
        return self._wire.stream(call)

    def processes(self, container_id: str) -> builtins.list[ProcessInfo]:
        """The processes inside the container."""
        return self._wire.send(ContainerCalls.processes(container_id))

    def signal(self, container_id: str, pid: int, signal: str = "TERM") -> Signalled:
        """Send a signal to one process by its in-container pid."""
        return self._wire.send(ContainerCalls.signal(container_id, pid, signal))

    def upload_archive(
        self,
        container_id: str,
        data: bytes,
        *,
        path: str | None = None,
        strip_components: int | None = None,
    ) -> Receipt:
        """Extract a tar or tar.gz into the running container (an operation)."""
        call = ContainerCalls.upload_archive(
            container_id, data, path=path, strip_components=strip_components
        )
        return self._wire.send(call)


class Operations(Resource):
    """`client.operations`: follow the work a 202 answer started."""

    def get(self, operation: Receipt | Operation | str) -> Operation:
        """The operation as it is now."""
        return self._wire.send(OperationCalls.get(core.operation_id(operation)))

    def wait(
        self,
        operation: Receipt | Operation | str,
        *,
        timeout: float = DEFAULT_WAIT,
        on_update: Callable[[Operation], object] | None = None,
    ) -> Operation:
        """Poll until the operation ends; raises its error if it failed, WaitTimeout if slow.

        `on_update` sees the operation after every look (progress, phases), the last included.
        """
        poll = core.Poll(timeout, time.monotonic())
        while True:
            current = self.get(operation)
            if on_update is not None:
                on_update(current)
            if (done := core.settle(current)) is not None:
                return done
            time.sleep(poll.delay(current, time.monotonic()))


class Snapshots(Resource):
    """`client.snapshots` (sends X-Tenant-Id, learnt from the server unless configured)."""

    def create(self, container_id: str, **options: Unpack[SnapshotOptions]) -> Receipt:
        """Capture a container's filesystem (an operation; `result.snapshot_id`)."""
        return self._wire.send(SnapshotCalls.create(container_id, **options))

    def list(
        self, container_id: str | None = None, labels: Mapping[str, str] | None = None
    ) -> builtins.list[Snapshot]:
        """The tenant's snapshots, optionally of one container and with every given label."""
        return self._wire.send(SnapshotCalls.list(container_id, labels))

    def get(self, snapshot_id: str) -> Snapshot:
        """One snapshot."""
        return self._wire.send(SnapshotCalls.get(snapshot_id))

    def lineage(self, snapshot_id: str) -> Lineage:
        """Ancestors, snapshots on top of it, and clones."""
        return self._wire.send(SnapshotCalls.lineage(snapshot_id))

    def pin(self, snapshot_id: str) -> Snapshot:
        """Keep it past its TTL and refuse deletes."""
        return self._wire.send(SnapshotCalls.pin(snapshot_id))

    def unpin(self, snapshot_id: str) -> Snapshot:
        """Let it expire and be deleted again."""
        return self._wire.send(SnapshotCalls.pin(snapshot_id, pinned=False))

    def delete(self, snapshot_id: str) -> SnapshotDeleted:
        """Delete it (SnapshotPinned, SnapshotInUse say why not)."""
        return self._wire.send(SnapshotCalls.delete(snapshot_id))

    def clone(self, snapshot_id: str, **options: Unpack[CloneOptions]) -> Receipt:
        """A new container from the snapshot (an operation; `result.container_id`)."""
        return self._wire.send(SnapshotCalls.clone(snapshot_id, **options))


class Forks(Resource):
    """`client.forks`: writable branches of a live container."""

    def create(self, container_id: str, **options: Unpack[ForkOptions]) -> Receipt:
        """Fork the container (an operation; `result.container_ids`)."""
        return self._wire.send(ForkCalls.create(container_id, **options))


class Files(Resource):
    """`client.volumes.files`: read, write, list and delete files in a volume."""

    def list(
        self, name: str, path: str = "/", *, page: int | None = None, page_size: int | None = None
    ) -> FileList:
        """One page of a directory's entries."""
        return self._wire.send(FileCalls.list(name, path, page=page, page_size=page_size))

    def read(self, name: str, path: str) -> bytes:
        """A file's bytes."""
        return self._wire.send(FileCalls.read(name, path))

    def write(self, name: str, path: str, data: bytes | str, *, mode: int = 0o644) -> FileEntry:
        """Create or replace a file (parents are made)."""
        return self._wire.send(FileCalls.write(name, path, data, mode=mode))

    def delete(self, name: str, path: str, *, recursive: bool = False) -> FileRemoved:
        """Delete a file, link, or (empty, or with `recursive`) directory."""
        return self._wire.send(FileCalls.delete(name, path, recursive=recursive))


class Volumes(Resource):
    """`client.volumes`: named data that outlives containers."""

    def __init__(self, wire: Wire) -> None:
        super().__init__(wire)
        self.files = Files(wire)

    def create(self, name: str, **options: Unpack[VolumeOptions]) -> Volume:
        """An empty volume; attach it at container create with `volumes=["name:/path"]`."""
        return self._wire.send(VolumeCalls.create(name, **options))

    def list(self) -> builtins.list[Volume]:
        """The tenant's volumes."""
        return self._wire.send(VolumeCalls.list())

    def get(self, name: str) -> Volume:
        """One volume."""
        return self._wire.send(VolumeCalls.get(name))

    def inspect(self, name: str) -> VolumeInspect:
        """The volume, its usage, and who attaches it."""
        return self._wire.send(VolumeCalls.inspect(name))

    def rename(self, name: str, new_name: str) -> VolumeRenamed:
        """Give the volume a new name."""
        return self._wire.send(VolumeCalls.rename(name, new_name))

    def delete(self, name: str) -> Receipt:
        """Delete the volume and its data (an operation)."""
        return self._wire.send(VolumeCalls.delete(name))

    def upload_archive(
        self,
        name: str,
        data: bytes,
        *,
        path: str | None = None,
        strip_components: int | None = None,
    ) -> Receipt:
        """Extract a tar or tar.gz into the volume (an operation)."""
        call = VolumeCalls.upload_archive(name, data, path=path, strip_components=strip_components)
        return self._wire.send(call)


class Network(Resource):
    """`client.network`: addresses, routes, diagnostics, DNS names."""

    def get(self, container_id: str) -> ContainerNetwork:
        """A container's network, as its namespace really holds it."""
        return self._wire.send(NetworkCalls.get(container_id))

    def readdress(self, container_id: str, ip_address: str) -> ContainerNetwork:
        """Move the container to another free address."""
        return self._wire.send(NetworkCalls.readdress(container_id, ip_address))

    def setup(self, container_id: str) -> NetworkSetup:
        """Program the container's network again."""
        return self._wire.send(NetworkCalls.setup(container_id))

    def diagnostics(self, container_id: str) -> NetworkDiagnostics:
        """Check each step of the path to the gateway."""
        return self._wire.send(NetworkCalls.diagnostics(container_id))

    def egress(self, container_id: str) -> Egress:
        """Traffic counters and whether traffic may leave the host."""
        return self._wire.send(NetworkCalls.egress(container_id))

    def add_route(self, container_id: str, destination: str) -> RouteChange:
        """Route a network via the gateway from inside the container."""
        return self._wire.send(NetworkCalls.add_route(container_id, destination))

    def delete_route(self, container_id: str, destination: str) -> RouteChange:
        """Remove a route added with `add_route`."""
        return self._wire.send(NetworkCalls.delete_route(container_id, destination))

    def allocations(self) -> Allocations:
        """Every address the tenant's containers hold."""
        return self._wire.send(NetworkCalls.allocations())

    def dns_entries(self) -> builtins.list[DnsEntry]:
        """The names the tenant's containers resolve one another by."""
        return self._wire.send(NetworkCalls.dns_entries())

    def rename_dns_entry(self, current_name: str, new_name: str) -> Renamed:
        """Rename the container called `current_name`."""
        return self._wire.send(NetworkCalls.rename_dns_entry(current_name, new_name))


class Services(Resource):
    """`client.services`: publish container ports through the Linx ingress."""

    def create(
        self, container_id: str, name: str, target_port: int, **options: Unpack[ServiceOptions]
    ) -> Service:
        """Publish a port the app already listens on."""
        return self._wire.send(ServiceCalls.create(container_id, name, target_port, **options))

    def list(self, container_id: str) -> builtins.list[Service]:
        """A container's published services."""
        return self._wire.send(ServiceCalls.list(container_id))

    def get(self, service_id: str) -> Service:
        """One service, its state and URLs."""
        return self._wire.send(ServiceCalls.get(service_id))

    def delete(self, service_id: str) -> Success:
        """Unpublish the service."""
        return self._wire.send(ServiceCalls.delete(service_id))


class Terminals(Resource):
    """`client.terminals`: terminal sessions (attach at `attach_url` with a WebSocket)."""

    def create(self, container_id: str, **options: Unpack[SessionOptions]) -> TerminalSession:
        """Open a shell on a new terminal in a running container."""
        return self._wire.send(TerminalCalls.create(container_id, **options))

    def list(self, target: str | None = None) -> builtins.list[TerminalSession]:
        """The tenant's sessions."""
        return self._wire.send(TerminalCalls.list(target))

    def get(self, session_id: str) -> TerminalSession:
        """One session."""
        return self._wire.send(TerminalCalls.get(session_id))

    def resize(self, session_id: str, cols: int, rows: int) -> Success:
        """Give the terminal a new size."""
        return self._wire.send(TerminalCalls.resize(session_id, cols, rows))

    def delete(self, session_id: str) -> Success:
        """End the session."""
        return self._wire.send(TerminalCalls.delete(session_id))

    def attach(
        self,
        container_id: str | None = None,
        *,
        session_id: str | None = None,
        cols: int | None = None,
        rows: int | None = None,
        shell: str | None = None,
    ) -> TerminalConnection:
        """Attach over WebSocket to a new terminal in a container, or to a session."""
        url = attach_url(
            self._wire.config.base_url,
            container_id=container_id,
            session_id=session_id,
            cols=cols,
            rows=rows,
            shell=shell,
        )
        return TerminalConnection.open(self._wire.config, url)


class Events(Resource):
    """`client.events`: the tenant's lifecycle events, live."""

    def stream(
        self,
        *,
        container_id: str | None = None,
        operation_id: str | None = None,
        last_event_id: str | None = None,
    ) -> contextlib.AbstractContextManager[Iterator[Event]]:
        """Follow events (`ready` first): `with client.events.stream() as events:`."""
        call = EventCalls.stream(
            container_id=container_id, operation_id=operation_id, last_event_id=last_event_id
        )
        return self._wire.stream(call)


class Activity(Resource):
    """`client.activity`."""

    def list(self, limit: int | None = None) -> builtins.list[ActivityEntry]:
        """What happened to the tenant's resources, newest first."""
        return self._wire.send(ActivityCalls.list(limit))


class Notifications(Resource):
    """`client.notifications`."""

    def list(self, *, unread_only: bool = False, limit: int | None = None) -> NotificationList:
        """Notifications, newest first, with the unread count."""
        return self._wire.send(NotificationCalls.list(unread_only=unread_only, limit=limit))

    def create(
        self,
        type: str,  # noqa: A002 - the wire name
        title: str,
        message: str,
        severity: str = "info",
    ) -> Notification:
        """Add a notification of the tenant's own."""
        return self._wire.send(NotificationCalls.create(type, title, message, severity))

    def mark_read(self, notification_id: str) -> Notification:
        """Mark one read."""
        return self._wire.send(NotificationCalls.mark_read(notification_id))

    def mark_all_read(self) -> MarkedRead:
        """Mark every unread one read."""
        return self._wire.send(NotificationCalls.mark_all_read())


class Cleanup(Resource):
    """`client.cleanup`: what deletes released on the host."""

    def status(self) -> CleanupStatus:
        """Cleanup tasks per status, and the retrier."""
        return self._wire.send(CleanupCalls.status())

    def tasks(
        self,
        *,
        container_id: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[CleanupTask]:
        """Cleanup tasks, newest first (one container's, if given)."""
        call = CleanupCalls.tasks(container_id=container_id, status=status, limit=limit)
        return self._wire.send(call)

    def force(self, container_id: str, *, remove_volumes: bool = False) -> ForcedCleanup:
        """Release everything of a stopped container and forget it."""
        return self._wire.send(CleanupCalls.force(container_id, remove_volumes=remove_volumes))


class ApiKeys(Resource):
    """`client.api_keys`."""

    def list(self) -> builtins.list[ApiKey]:
        """The tenant's live keys (never their secrets)."""
        return self._wire.send(ApiKeyCalls.list())

    def create(self, name: str) -> CreatedApiKey:
        """Mint a key; its secret is in this answer only."""
        return self._wire.send(ApiKeyCalls.create(name))

    def delete(self, key_id: str) -> Success:
        """Revoke a key; it stops working at once."""
        return self._wire.send(ApiKeyCalls.delete(key_id))


class System(Resource):
    """`client.system`."""

    def health(self) -> Health:
        """Liveness (needs no key)."""
        return self._wire.send(SystemCalls.health())

    def info(self) -> SystemInfo:
        """Version, host, runtime and the caller's tenant."""
        return self._wire.send(SystemCalls.info())


class Guides(Resource):
    """`client.guides`: each concern's help, examples and health."""

    def help(self, concern: str) -> ConcernHelp:
        """Routes, fields and rules of a concern."""
        return self._wire.send(GuideCalls.help(concern))

    def examples(self, concern: str) -> ConcernExamples:
        """Canonical payloads of a concern."""
        return self._wire.send(GuideCalls.examples(concern))

    def health(self, concern: str) -> ConcernHealth:
        """Whether a concern can take new work now."""
        return self._wire.send(GuideCalls.health(concern))
