"""The async client's collections: `_resources` with `await`, sending the same `_calls` calls.

Nothing here builds a path or a body; `tests/sdk/test_surface.py` keeps these signatures
equal to `_resources`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Unpack

import anyio

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
from quilt.sdk._terminal import AsyncTerminalConnection, attach_url

if TYPE_CHECKING:
    import builtins
    import contextlib
    from collections.abc import AsyncIterator, Callable, Mapping, Sequence

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
    from quilt.sdk._async_client import AsyncWire
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


class AsyncResource:
    """A collection of one concern's routes, sending over the client's wire."""

    def __init__(self, wire: AsyncWire) -> None:
        self._wire = wire


class AsyncEnv(AsyncResource):
    """`client.containers.env`: the environment new execs receive (GET, PUT, PATCH)."""

    async def get(self, container_id: str) -> dict[str, str]:
        """The container's environment."""
        return await self._wire.send(EnvCalls.get(container_id))

    async def set(self, container_id: str, environment: Mapping[str, str]) -> dict[str, str]:
        """Replace the whole environment (keys not given are removed); returns it."""
        return await self._wire.send(EnvCalls.set(container_id, environment))

    async def patch(self, container_id: str, environment: Mapping[str, str]) -> dict[str, str]:
        """Add or update keys, keeping the others; returns the whole environment."""
        return await self._wire.send(EnvCalls.patch(container_id, environment))


class AsyncContainers(AsyncResource):
    """`client.containers`: create, inspect, stop, start, delete, exec."""

    def __init__(self, wire: AsyncWire) -> None:
        super().__init__(wire)
        self.env = AsyncEnv(wire)

    async def create(self, name: str, **spec: Unpack[ContainerSpec]) -> Container:
        """Create and start a container; returns once it runs and is probed."""
        return await self._wire.send(ContainerCalls.create(name, **spec))

    async def list(self, state: str | None = None) -> builtins.list[Container]:
        """The tenant's containers, optionally in one state."""
        return await self._wire.send(ContainerCalls.list(state))

    async def get(self, container_id: str) -> Container:
        """A container's runtime status and readiness."""
        return await self._wire.send(ContainerCalls.get(container_id))

    async def by_name(self, name: str) -> str:
        """The id of the tenant's container with this name (NotFound if none)."""
        return await self._wire.send(ContainerCalls.by_name(name))

    async def ready(self, container_id: str) -> Readiness:
        """Probe whether the container can take work now."""
        return await self._wire.send(ContainerCalls.ready(container_id))

    async def metrics(self, container_id: str) -> Metrics:
        """CPU, memory and pids from the container's cgroups."""
        return await self._wire.send(ContainerCalls.metrics(container_id))

    async def logs(self, container_id: str, limit: int | None = None) -> builtins.list[LogEntry]:
        """The newest lines the main command wrote."""
        return await self._wire.send(ContainerCalls.logs(container_id, limit))

    async def rename(self, container_id: str, new_name: str) -> Renamed:
        """Give the container a new name."""
        return await self._wire.send(ContainerCalls.rename(container_id, new_name))

    async def stop(self, container_id: str) -> Container:
        """Stop gracefully (TERM, grace, KILL); returns the stopped status."""
        return await self._wire.send(ContainerCalls.stop(container_id))

    async def kill(self, container_id: str) -> Container:
        """Kill at once; returns the stopped status."""
        return await self._wire.send(ContainerCalls.kill(container_id))

    async def start(self, container_id: str) -> Receipt:
        """Run a stopped container again (an operation: pass the receipt to `wait`)."""
        return await self._wire.send(ContainerCalls.start(container_id))

    async def resume(self, container_id: str) -> Receipt:
        """Like start (an operation)."""
        return await self._wire.send(ContainerCalls.resume(container_id))

    async def delete(self, container_id: str) -> Deleted:
        """Tear the container down; returns once nothing of it is left."""
        return await self._wire.send(ContainerCalls.delete(container_id))

    async def batch(self, items: Sequence[NewContainer]) -> Receipt:
        """Create several containers in one operation."""
        return await self._wire.send(ContainerCalls.batch(items))

    async def exec(
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
        return await self._wire.send(call)

    def stream(
        self,
        container_id: str,
        command: Sequence[str],
        *,
        working_directory: str | None = None,
        timeout_ms: int | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> contextlib.AbstractAsyncContextManager[AsyncIterator[StreamFrame]]:
        """Run argv and read its frames as they come: `async with ….stream(...) as frames:`."""
        call = ContainerCalls.stream(
            container_id,
            command,
            working_directory=working_directory,
            timeout_ms=timeout_ms,
            environment=environment,
        )
        return self._wire.stream(call)

    async def processes(self, container_id: str) -> builtins.list[ProcessInfo]:
        """The processes inside the container."""
        return await self._wire.send(ContainerCalls.processes(container_id))

    async def signal(self, container_id: str, pid: int, signal: str = "TERM") -> Signalled:
        """Send a signal to one process by its in-container pid."""
        return await self._wire.send(ContainerCalls.signal(container_id, pid, signal))

    async def upload_archive(
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
        return await self._wire.send(call)


class AsyncOperations(AsyncResource):
    """`client.operations`: follow the work a 202 answer started."""

    async def get(self, operation: Receipt | Operation | str) -> Operation:
        """The operation as it is now."""
        return await self._wire.send(OperationCalls.get(core.operation_id(operation)))

    async def wait(
        self,
        operation: Receipt | Operation | str,
        *,
        timeout: float = DEFAULT_WAIT,
        on_update: Callable[[Operation], object] | None = None,
    ) -> Operation:
        """Poll until the operation ends; raises its error if it failed, WaitTimeout if slow.

        `on_update` sees the operation after every look (progress, phases), the last included.
        """
        poll = core.Poll(timeout, anyio.current_time())
        while True:
            current = await self.get(operation)
            if on_update is not None:
                on_update(current)
            if (done := core.settle(current)) is not None:
                return done
            await anyio.sleep(poll.delay(current, anyio.current_time()))


class AsyncSnapshots(AsyncResource):
    """`client.snapshots` (sends X-Tenant-Id, learnt from the server unless configured)."""

    async def create(self, container_id: str, **options: Unpack[SnapshotOptions]) -> Receipt:
        """Capture a container's filesystem (an operation; `result.snapshot_id`)."""
        return await self._wire.send(SnapshotCalls.create(container_id, **options))

    async def list(
        self, container_id: str | None = None, labels: Mapping[str, str] | None = None
    ) -> builtins.list[Snapshot]:
        """The tenant's snapshots, optionally of one container and with every given label."""
        return await self._wire.send(SnapshotCalls.list(container_id, labels))

    async def get(self, snapshot_id: str) -> Snapshot:
        """One snapshot."""
        return await self._wire.send(SnapshotCalls.get(snapshot_id))

    async def lineage(self, snapshot_id: str) -> Lineage:
        """Ancestors, snapshots on top of it, and clones."""
        return await self._wire.send(SnapshotCalls.lineage(snapshot_id))

    async def pin(self, snapshot_id: str) -> Snapshot:
        """Keep it past its TTL and refuse deletes."""
        return await self._wire.send(SnapshotCalls.pin(snapshot_id))

    async def unpin(self, snapshot_id: str) -> Snapshot:
        """Let it expire and be deleted again."""
        return await self._wire.send(SnapshotCalls.pin(snapshot_id, pinned=False))

    async def delete(self, snapshot_id: str) -> SnapshotDeleted:
        """Delete it (SnapshotPinned, SnapshotInUse say why not)."""
        return await self._wire.send(SnapshotCalls.delete(snapshot_id))

    async def clone(self, snapshot_id: str, **options: Unpack[CloneOptions]) -> Receipt:
        """A new container from the snapshot (an operation; `result.container_id`)."""
        return await self._wire.send(SnapshotCalls.clone(snapshot_id, **options))


class AsyncForks(AsyncResource):
    """`client.forks`: writable branches of a live container."""

    async def create(self, container_id: str, **options: Unpack[ForkOptions]) -> Receipt:
        """Fork the container (an operation; `result.container_ids`)."""
        return await self._wire.send(ForkCalls.create(container_id, **options))


class AsyncFiles(AsyncResource):
    """`client.volumes.files`: read, write, list and delete files in a volume."""

    async def list(
        self, name: str, path: str = "/", *, page: int | None = None, page_size: int | None = None
    ) -> FileList:
        """One page of a directory's entries."""
        return await self._wire.send(FileCalls.list(name, path, page=page, page_size=page_size))

    async def read(self, name: str, path: str) -> bytes:
        """A file's bytes."""
        return await self._wire.send(FileCalls.read(name, path))

    async def write(
        self, name: str, path: str, data: bytes | str, *, mode: int = 0o644
    ) -> FileEntry:
        """Create or replace a file (parents are made)."""
        return await self._wire.send(FileCalls.write(name, path, data, mode=mode))

    async def delete(self, name: str, path: str, *, recursive: bool = False) -> FileRemoved:
        """Delete a file, link, or (empty, or with `recursive`) directory."""
        return await self._wire.send(FileCalls.delete(name, path, recursive=recursive))


class AsyncVolumes(AsyncResource):
    """`client.volumes`: named data that outlives containers."""

    def __init__(self, wire: AsyncWire) -> None:
        super().__init__(wire)
        self.files = AsyncFiles(wire)

    async def create(self, name: str, **options: Unpack[VolumeOptions]) -> Volume:
        """An empty volume; attach it at container create with `volumes=["name:/path"]`."""
        return await self._wire.send(VolumeCalls.create(name, **options))

    async def list(self) -> builtins.list[Volume]:
        """The tenant's volumes."""
        return await self._wire.send(VolumeCalls.list())

    async def get(self, name: str) -> Volume:
        """One volume."""
        return await self._wire.send(VolumeCalls.get(name))

    async def inspect(self, name: str) -> VolumeInspect:
        """The volume, its usage, and who attaches it."""
        return await self._wire.send(VolumeCalls.inspect(name))

    async def rename(self, name: str, new_name: str) -> VolumeRenamed:
        """Give the volume a new name."""
        return await self._wire.send(VolumeCalls.rename(name, new_name))

    async def delete(self, name: str) -> Receipt:
        """Delete the volume and its data (an operation)."""
        return await self._wire.send(VolumeCalls.delete(name))

    async def upload_archive(
        self,
        name: str,
        data: bytes,
        *,
        path: str | None = None,
        strip_components: int | None = None,
    ) -> Receipt:
        """Extract a tar or tar.gz into the volume (an operation)."""
        call = VolumeCalls.upload_archive(name, data, path=path, strip_components=strip_components)
        return await self._wire.send(call)


class AsyncNetwork(AsyncResource):
    """`client.network`: addresses, routes, diagnostics, DNS names."""

    async def get(self, container_id: str) -> ContainerNetwork:
        """A container's network, as its namespace really holds it."""
        return await self._wire.send(NetworkCalls.get(container_id))

    async def readdress(self, container_id: str, ip_address: str) -> ContainerNetwork:
        """Move the container to another free address."""
        return await self._wire.send(NetworkCalls.readdress(container_id, ip_address))

    async def setup(self, container_id: str) -> NetworkSetup:
        """Program the container's network again."""
        return await self._wire.send(NetworkCalls.setup(container_id))

    async def diagnostics(self, container_id: str) -> NetworkDiagnostics:
        """Check each step of the path to the gateway."""
        return await self._wire.send(NetworkCalls.diagnostics(container_id))

    async def egress(self, container_id: str) -> Egress:
        """Traffic counters and whether traffic may leave the host."""
        return await self._wire.send(NetworkCalls.egress(container_id))

    async def add_route(self, container_id: str, destination: str) -> RouteChange:
        """Route a network via the gateway from inside the container."""
        return await self._wire.send(NetworkCalls.add_route(container_id, destination))

    async def delete_route(self, container_id: str, destination: str) -> RouteChange:
        """Remove a route added with `add_route`."""
        return await self._wire.send(NetworkCalls.delete_route(container_id, destination))

    async def allocations(self) -> Allocations:
        """Every address the tenant's containers hold."""
        return await self._wire.send(NetworkCalls.allocations())

    async def dns_entries(self) -> builtins.list[DnsEntry]:
        """The names the tenant's containers resolve one another by."""
        return await self._wire.send(NetworkCalls.dns_entries())

    async def rename_dns_entry(self, current_name: str, new_name: str) -> Renamed:
        """Rename the container called `current_name`."""
        return await self._wire.send(NetworkCalls.rename_dns_entry(current_name, new_name))


class AsyncServices(AsyncResource):
    """`client.services`: publish container ports through the Linx ingress."""

    async def create(
        self, container_id: str, name: str, target_port: int, **options: Unpack[ServiceOptions]
    ) -> Service:
        """Publish a port the app already listens on."""
        return await self._wire.send(
            ServiceCalls.create(container_id, name, target_port, **options)
        )

    async def list(self, container_id: str) -> builtins.list[Service]:
        """A container's published services."""
        return await self._wire.send(ServiceCalls.list(container_id))

    async def get(self, service_id: str) -> Service:
        """One service, its state and URLs."""
        return await self._wire.send(ServiceCalls.get(service_id))

    async def delete(self, service_id: str) -> Success:
        """Unpublish the service."""
        return await self._wire.send(ServiceCalls.delete(service_id))


class AsyncTerminals(AsyncResource):
    """`client.terminals`: terminal sessions (attach at `attach_url` with a WebSocket)."""

    async def create(self, container_id: str, **options: Unpack[SessionOptions]) -> TerminalSession:
        """Open a shell on a new terminal in a running container."""
        return await self._wire.send(TerminalCalls.create(container_id, **options))

    async def list(self, target: str | None = None) -> builtins.list[TerminalSession]:
        """The tenant's sessions."""
        return await self._wire.send(TerminalCalls.list(target))

    async def get(self, session_id: str) -> TerminalSession:
        """One session."""
        return await self._wire.send(TerminalCalls.get(session_id))

    async def resize(self, session_id: str, cols: int, rows: int) -> Success:
        """Give the terminal a new size."""
        return await self._wire.send(TerminalCalls.resize(session_id, cols, rows))

    async def delete(self, session_id: str) -> Success:
        """End the session."""
        return await self._wire.send(TerminalCalls.delete(session_id))

    async def attach(
        self,
        container_id: str | None = None,
        *,
        session_id: str | None = None,
        cols: int | None = None,
        rows: int | None = None,
        shell: str | None = None,
    ) -> AsyncTerminalConnection:
        """Attach over WebSocket to a new terminal in a container, or to a session."""
        url = attach_url(
            self._wire.config.base_url,
            container_id=container_id,
            session_id=session_id,
            cols=cols,
            rows=rows,
            shell=shell,
        )
        return await AsyncTerminalConnection.open(self._wire.config, url)


class AsyncEvents(AsyncResource):
    """`client.events`: the tenant's lifecycle events, live."""

    def stream(
        self,
        *,
        container_id: str | None = None,
        operation_id: str | None = None,
        last_event_id: str | None = None,
    ) -> contextlib.AbstractAsyncContextManager[AsyncIterator[Event]]:
        """Follow events (`ready` first): `async with client.events.stream() as events:`."""
        call = EventCalls.stream(
            container_id=container_id, operation_id=operation_id, last_event_id=last_event_id
        )
        return self._wire.stream(call)


class AsyncActivity(AsyncResource):
    """`client.activity`."""

    async def list(self, limit: int | None = None) -> builtins.list[ActivityEntry]:
        """What happened to the tenant's resources, newest first."""
        return await self._wire.send(ActivityCalls.list(limit))


class AsyncNotifications(AsyncResource):
    """`client.notifications`."""

    async def list(
        self, *, unread_only: bool = False, limit: int | None = None
    ) -> NotificationList:
        """Notifications, newest first, with the unread count."""
        return await self._wire.send(NotificationCalls.list(unread_only=unread_only, limit=limit))

    async def create(
        self,
        type: str,  # noqa: A002 - the wire name
        title: str,
        message: str,
        severity: str = "info",
    ) -> Notification:
        """Add a notification of the tenant's own."""
        return await self._wire.send(NotificationCalls.create(type, title, message, severity))

    async def mark_read(self, notification_id: str) -> Notification:
        """Mark one read."""
        return await self._wire.send(NotificationCalls.mark_read(notification_id))

    async def mark_all_read(self) -> MarkedRead:
        """Mark every unread one read."""
        return await self._wire.send(NotificationCalls.mark_all_read())


class AsyncCleanup(AsyncResource):
    """`client.cleanup`: what deletes released on the host."""

    async def status(self) -> CleanupStatus:
        """Cleanup tasks per status, and the retrier."""
        return await self._wire.send(CleanupCalls.status())

    async def tasks(
        self,
        *,
        container_id: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[CleanupTask]:
        """Cleanup tasks, newest first (one container's, if given)."""
        call = CleanupCalls.tasks(container_id=container_id, status=status, limit=limit)
        return await self._wire.send(call)

    async def force(self, container_id: str, *, remove_volumes: bool = False) -> ForcedCleanup:
        """Release everything of a stopped container and forget it."""
        return await self._wire.send(
            CleanupCalls.force(container_id, remove_volumes=remove_volumes)
        )


class AsyncApiKeys(AsyncResource):
    """`client.api_keys`."""

    async def list(self) -> builtins.list[ApiKey]:
        """The tenant's live keys (never their secrets)."""
        return await self._wire.send(ApiKeyCalls.list())

    async def create(self, name: str) -> CreatedApiKey:
        """Mint a key; its secret is in this answer only."""
        return await self._wire.send(ApiKeyCalls.create(name))

    async def delete(self, key_id: str) -> Success:
        """Revoke a key; it stops working at once."""
        return await self._wire.send(ApiKeyCalls.delete(key_id))


class AsyncSystem(AsyncResource):
    """`client.system`."""

    async def health(self) -> Health:
        """Liveness (needs no key)."""
        return await self._wire.send(SystemCalls.health())

    async def info(self) -> SystemInfo:
        """Version, host, runtime and the caller's tenant."""
        return await self._wire.send(SystemCalls.info())


class AsyncGuides(AsyncResource):
    """`client.guides`: each concern's help, examples and health."""

    async def help(self, concern: str) -> ConcernHelp:
        """Routes, fields and rules of a concern."""
        return await self._wire.send(GuideCalls.help(concern))

    async def examples(self, concern: str) -> ConcernExamples:
        """Canonical payloads of a concern."""
        return await self._wire.send(GuideCalls.examples(concern))

    async def health(self, concern: str) -> ConcernHealth:
        """Whether a concern can take new work now."""
        return await self._wire.send(GuideCalls.health(concern))
