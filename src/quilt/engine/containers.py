"""Containers: create, inspect, rename, stop, kill, start, resume, delete, batch, env.

Decides what may happen (domain rules), writes every state change to the store, and asks
the node to do the host work. Never touches the host itself.
"""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from dataclasses import dataclass, replace
from ipaddress import IPv4Address
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quilt import logs
from quilt.domain import states, validation
from quilt.domain.ids import ContainerId, TenantId
from quilt.domain.readiness import Readiness, evaluate
from quilt.domain.records import ContainerRecord, now
from quilt.domain.snapshots import ResumePolicy
from quilt.domain.states import ContainerState
from quilt.errors import BadRequest, Conflict, NotFound, QuiltError
from quilt.node.interface import Launched, LaunchSpec, VolumeAttachment

if TYPE_CHECKING:
    from collections.abc import Mapping

    from quilt.domain.records import CleanupTaskRecord
    from quilt.drivers.runtime.cgroups import Usage
    from quilt.engine.cleanup import Teardown
    from quilt.engine.operations import OperationContext, Operations
    from quilt.engine.tasks import Tasks
    from quilt.node.interface import LogLine, Node, Prepared
    from quilt.settings import Settings
    from quilt.store.store import Store
    from quilt.wire.containers import CreateContainer

log = logs.get(__name__)


@dataclass(frozen=True)
class HostFacts:
    """What validation needs to know about the host."""

    memory_mb: int
    cpus: int
    gpus: tuple[str, ...]

    @classmethod
    def read(cls) -> HostFacts:
        """Read memory, CPUs and GPU devices from this host."""
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        gpus = tuple(sorted(p.name for p in Path("/dev").glob("nvidia[0-9]*")))
        return cls(memory_mb=pages // (1024 * 1024), cpus=os.cpu_count() or 1, gpus=gpus)


def attachment_text(attachment: VolumeAttachment) -> str:
    """How a row stores an attachment: `<volume id>:<target>[:ro]` (ids survive renames)."""
    suffix = ":ro" if attachment.read_only else ""
    return f"{attachment.volume_id}:{attachment.target}{suffix}"


def parse_attachment(text: str) -> VolumeAttachment:
    """The inverse of `attachment_text`."""
    volume_id, _, rest = text.partition(":")
    target, _, mode = rest.partition(":")
    return VolumeAttachment(volume_id, target, read_only=mode == "ro")


def conflict(record: ContainerRecord, action: str) -> Conflict:
    """The 409 for an action the container's state forbids."""
    return Conflict(
        f"cannot {action} container {record.container_id}: it is {record.state.value}",
        details={"state": record.state.value},
    )


class Containers:
    """The containers concern."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        node: Node,
        operations: Operations,
        tasks: Tasks,
        host: HostFacts,
        teardown: Teardown,
    ) -> None:
        self.settings = settings
        self.teardown = teardown
        self.store = store
        self.node = node
        self.operations = operations
        self.tasks = tasks
        self.host = host
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def lock(self, container_id: str) -> asyncio.Lock:
        """The lock every lifecycle change of one container holds (snapshots and forks too)."""
        return self._locks[container_id]

    # -- reading -----------------------------------------------------------------------

    def get(
        self, tenant_id: TenantId, container_id: str, *, shared: bool = False
    ) -> ContainerRecord:
        """One of the tenant's containers, by id or else by name (another tenant's: not found).

        Routes take `<id>`; clients that pass a container's name there (the TypeScript SDK's
        identifiers, `quilt containers get web`) find it too. `shared` answers a lookup by id
        from the store's memory (exec's hot path); that record must not be changed.
        """
        lookup = self.store.containers.cached if shared else self.store.containers.get
        record = lookup(tenant_id, container_id)
        if record is None:
            record = self.store.containers.by_name(tenant_id, container_id)
        if record is None:
            raise NotFound(f"container {container_id} does not exist")
        return record

    def resolve(self, tenant_id: TenantId, container_id: str) -> str:
        """The container's id, for a route given its id or its name (answers echo the id)."""
        if container_id.startswith("ctr_"):
            return container_id
        return self.get(tenant_id, container_id).container_id

    def id_for(self, tenant_id: TenantId, ref: str) -> str:
        """The id of the container named `ref`, else `ref` itself (filters: may be gone)."""
        named = self.store.containers.by_name(tenant_id, ref)
        return named.container_id if named is not None else ref

    def by_name(self, tenant_id: TenantId, name: str) -> ContainerRecord:
        """One of the tenant's containers by name."""
        record = self.store.containers.by_name(tenant_id, name)
        if record is None:
            raise NotFound(f"no container is named {name!r}")
        return record

    def search(self, tenant_id: TenantId, state: str | None) -> list[ContainerRecord]:
        """The tenant's containers, optionally in one state."""
        wanted = None
        if state is not None:
            try:
                wanted = ContainerState(state)
            except ValueError as exc:
                raise BadRequest(
                    f"unknown state {state!r}",
                    details={"expected": [s.value for s in ContainerState], "received": state},
                ) from exc
        return self.store.containers.list(tenant_id, wanted)

    def running(self, tenant_id: TenantId, container_id: str, action: str) -> ContainerRecord:
        """The tenant's container if it is running; 409 with its state otherwise."""
        record = self.get(tenant_id, container_id)
        if record.state is not ContainerState.RUNNING:
            raise conflict(record, action)
        return record

    def usage(self, tenant_id: TenantId, container_id: str) -> tuple[ContainerRecord, Usage]:
        """Resource usage from the cgroups; the container must be running."""
        record = self.running(tenant_id, container_id, "read the metrics of")
        return record, self.node.usage(record.container_id)

    def logs(self, tenant_id: TenantId, container_id: str, limit: int) -> list[LogLine]:
        """The newest `limit` lines the main command wrote."""
        record = self.get(tenant_id, container_id)
        return self.node.logs(record.container_id, limit)

    async def readiness(self, record: ContainerRecord) -> Readiness:
        """Probe the container for real and derive its readiness."""
        checks = await self.node.probe(record.container_id, record.image, record.ip_address)
        return evaluate(checks)

    # -- create --------------------------------------------------------------------------

    def validate(self, tenant_id: TenantId, request: CreateContainer) -> LaunchSpec:
        """Validate a create request into a launch spec (raises before any work starts)."""
        validation.check_name(request.name)
        image = request.image or self.settings.default_image
        if request.oci:
            raise BadRequest(
                "OCI images are not supported by this server yet",
                details={"expected": ["oci: false"], "received": image},
                hint="use a managed image: prod or busybox",
            )
        validation.check_gui_command(image, request.command)
        command = validation.check_argv(request.command) if request.command is not None else None
        environment = validation.check_environment(request.environment)
        workdir = validation.check_path(request.working_directory or "/", field="working_directory")
        validation.check_labels(request.labels)
        memory = request.memory_limit_mb or self.settings.default_memory_mb
        cpu = request.cpu_limit_percent or self.settings.default_cpu_percent
        validation.check_limits(
            memory, cpu, host_memory_mb=self.host.memory_mb, host_cpus=self.host.cpus
        )
        validation.check_gpus(request.gpu_count, request.gpu_ids, host_gpus=self.host.gpus)
        attachments = []
        for mount in validation.parse_volumes(request.volumes):
            volume = self.store.volumes.by_name(tenant_id, mount.name)
            if volume is None:
                raise NotFound(
                    f"volume {mount.name!r} does not exist",
                    hint='create it first: POST /api/volumes {"name": ...}',
                )
            attachments.append(VolumeAttachment(volume.volume_id, mount.target, mount.read_only))
        return LaunchSpec(
            image=image,
            command=command,
            environment=environment,
            working_directory=workdir,
            memory_limit_mb=memory,
            cpu_limit_percent=cpu,
            strict=request.strict,
            volumes=tuple(attachments),
            network_group=tenant_id,
        )

    async def create(
        self, tenant_id: TenantId, request: CreateContainer
    ) -> tuple[ContainerRecord, Readiness, Launched]:
        """Create and start a container; return only once readiness has been probed."""
        spec = self.validate(tenant_id, request)
        if self.store.containers.by_name(tenant_id, request.name) is not None:
            raise Conflict(
                f"a container named {request.name!r} already exists",
                details={"received": request.name},
            )
        launched = await self.node.launch(spec, allow_pool=not spec.volumes)
        record = await self.register(
            tenant_id,
            spec,
            launched,
            name=request.name,
            labels=request.labels,
            gpu_count=request.gpu_count,
            gpu_ids=request.gpu_ids,
        )
        readiness = await self.readiness(record)
        return self.get(tenant_id, record.container_id), readiness, launched

    def check_new_name(self, tenant_id: TenantId, name: str) -> None:
        """A valid name no container of the tenant has yet (400 or 409 otherwise)."""
        validation.check_name(name)
        if self.store.containers.by_name(tenant_id, name) is not None:
            raise Conflict(f"a container named {name!r} already exists", details={"received": name})

    async def make(
        self,
        ctx: OperationContext,
        tenant_id: TenantId,
        spec: LaunchSpec,
        *,
        name: str,
        labels: Mapping[str, str],
        resume_policy: ResumePolicy,
        source_snapshot_id: str | None = None,
        forked_from: str | None = None,
    ) -> ContainerRecord:
        """Make a container from a captured layer (clone, fork): running now, or created only.

        `manual` leaves it `created`, with its filesystem and address ready for a later start.
        """
        made: Launched | Prepared
        if resume_policy is ResumePolicy.IMMEDIATE:
            launched = await self.node.launch(spec, allow_pool=False)
            ctx.add_phases(launched.phases)
            made = launched
        else:
            made = await self.node.prepare(spec)
        return await self.register(
            tenant_id,
            spec,
            made,
            name=name,
            labels=labels,
            source_snapshot_id=source_snapshot_id,
            forked_from=forked_from,
        )

    async def register(
        self,
        tenant_id: TenantId,
        spec: LaunchSpec,
        made: Launched | Prepared,
        *,
        name: str,
        labels: Mapping[str, str],
        gpu_count: int = 0,
        gpu_ids: list[str] | None = None,
        source_snapshot_id: str | None = None,
        forked_from: str | None = None,
    ) -> ContainerRecord:
        """Record a container the node has made; running (and watched) once it was launched.

        If the row cannot be written (a name taken meanwhile), the host side is torn down.
        """
        running = isinstance(made, Launched)
        record = ContainerRecord(
            container_id=ContainerId(made.container_id),
            tenant_id=tenant_id,
            name=name,
            image=spec.image,
            command=list(spec.command) if spec.command else None,
            environment=dict(spec.environment),
            working_directory=spec.working_directory,
            memory_limit_mb=spec.memory_limit_mb,
            cpu_limit_percent=spec.cpu_limit_percent,
            strict=spec.strict,
            gpu_count=gpu_count,
            gpu_ids=list(gpu_ids or []),
            labels=dict(labels),
            volumes=[attachment_text(v) for v in spec.volumes],
            state=ContainerState.RUNNING if running else ContainerState.CREATED,
            created_at=now(),
            pid=made.pid if isinstance(made, Launched) else None,
            ip_address=made.ip_address,
            started_at=made.started_at if isinstance(made, Launched) else None,
            source_snapshot_id=source_snapshot_id,
            forked_from=forked_from,
            routes=list(spec.routes),
        )
        try:
            self.store.containers.insert(record)
        except QuiltError:
            await self.node.remove(made.container_id)
            raise
        if running:
            self.watch(record.container_id)
        return record

    @staticmethod
    def spec_of(record: ContainerRecord, **changes: Any) -> LaunchSpec:
        """The launch spec a stored container runs with (start, fork)."""
        spec = LaunchSpec(
            image=record.image,
            command=tuple(record.command) if record.command else None,
            environment=record.environment,
            working_directory=record.working_directory,
            memory_limit_mb=record.memory_limit_mb,
            cpu_limit_percent=record.cpu_limit_percent,
            strict=record.strict,
            container_id=record.container_id,
            volumes=tuple(parse_attachment(text) for text in record.volumes),
            network_group=record.tenant_id,
            routes=tuple(record.routes),
        )
        return replace(spec, **changes)

    def submit_batch(self, tenant_id: TenantId, items: list[CreateContainer]) -> Any:
        """Create several containers in one operation; each item's outcome is recorded."""
        for item in items:
            self.validate(tenant_id, item)  # refuse a bad batch before any work starts
        names = [item.name for item in items]
        if len(set(names)) != len(names):
            raise BadRequest("two batch items share a name", details={"received": str(names)})

        async def work(ctx: OperationContext) -> dict[str, Any]:
            created: list[str] = []
            for index, item in enumerate(items, start=1):
                progress = 100 * index / len(items)
                try:
                    record, _, launched = await self.create(tenant_id, item)
                except QuiltError as exc:
                    ctx.item(
                        {
                            "name": item.name,
                            "status": "failed",
                            "error": {"error": exc.message, "error_code": exc.code},
                        },
                        progress_pct=progress,
                    )
                    continue
                created.append(record.container_id)
                ctx.add_phases(launched.phases)
                ctx.item(
                    {"name": item.name, "status": "succeeded", "container_id": record.container_id},
                    progress_pct=progress,
                )
            failed = len(items) - len(created)
            if failed:
                ctx.record.reason_code = "PARTIAL_FAILURE"
                raise Conflict(f"{failed} of {len(items)} containers could not be created")
            return {"container_ids": created}

        return self.operations.submit(tenant_id, "containers.batch", work, target_type="container")

    # -- exit watching ---------------------------------------------------------------------

    def watch(self, container_id: ContainerId) -> None:
        """Follow the container's current init and record how it ended."""
        pid = self.node.init_pid(container_id)
        self.tasks.spawn(self._watch(container_id, pid), name=f"watch {container_id}")

    async def _watch(self, container_id: ContainerId, pid: int | None) -> None:
        await self.node.wait_exit(container_id)
        async with self._locks[container_id]:
            self._record_exit(container_id, pid)

    def _record_exit(self, container_id: ContainerId, pid: int | None = None) -> None:
        """Record the end of the run whose init was `pid` (None: whatever run is recorded).

        A watcher that wakes late must not end a later run: not one started since, and not
        one being started now (a stop already recorded the end of the run it watched, and
        cleared the pid).
        """
        record = self.store.containers.find(container_id)
        if record is None or record.state not in states.LIVE:
            return
        if pid is not None and record.pid != pid:
            return
        target = states.state_after_main_exit(stop_requested=record.stop_requested)
        self.store.containers.update(
            container_id,
            state=target,
            exit_code=self.node.exit_code(container_id),
            exited_at=now(),
            pid=None,
        )
        log.info("container.exited", container_id=container_id, state=target.value)

    # -- lifecycle -------------------------------------------------------------------------

    async def _end(
        self, tenant_id: TenantId, container_id: str, *, graceful: bool
    ) -> ContainerRecord:
        record = self.get(tenant_id, container_id)
        async with self._locks[record.container_id]:
            record = self.get(tenant_id, container_id)
            if not states.can_stop(record.state):
                return record  # already ended: stopping again changes nothing
            self.store.containers.update(record.container_id, stop_requested=True)
            if graceful:
                await self.node.stop(record.container_id, self.settings.stop_grace_seconds)
            else:
                await self.node.kill(record.container_id)
            recorded = self.node.exit_code(record.container_id)
            if recorded is None and not graceful:
                recorded = 137  # SIGKILL ends minit before it can write a status line
            self.store.containers.update(
                record.container_id,
                state=ContainerState.STOPPED,
                exit_code=recorded,
                exited_at=now(),
                pid=None,
            )
        return self.get(tenant_id, container_id)

    async def stop(self, tenant_id: TenantId, container_id: str) -> ContainerRecord:
        """SIGTERM, grace period, SIGKILL; answer once the container is stopped."""
        return await self._end(tenant_id, container_id, graceful=True)

    async def kill(self, tenant_id: TenantId, container_id: str) -> ContainerRecord:
        """SIGKILL at once; answer once the container is stopped."""
        return await self._end(tenant_id, container_id, graceful=False)

    async def delete(
        self, tenant_id: TenantId, container_id: str, *, only_if_ended: bool = False
    ) -> list[CleanupTaskRecord]:
        """Tear the container down completely and forget it; the cleanup tasks it took.

        A resource that could not be released stays as a failed task the retrier takes up;
        the container is forgotten either way. `only_if_ended` refuses (409) a container
        that is running by the time the lock is held.
        """
        record = self.get(tenant_id, container_id)
        async with self._locks[record.container_id]:
            record = self.get(tenant_id, container_id)
            if record.state in states.LIVE:
                if only_if_ended:
                    raise conflict(record, "clean up")
                self.store.containers.update(record.container_id, stop_requested=True)
            tasks = await self.teardown.run(record)
            self.store.containers.delete(record.container_id)
        self._locks.pop(record.container_id, None)
        return tasks

    def submit_start(self, tenant_id: TenantId, container_id: str, kind: str) -> Any:
        """Run a stopped container again on its kept filesystem, as an operation."""
        record = self.get(tenant_id, container_id)
        if not states.can_start(record.state):
            raise conflict(record, kind)
        self.store.containers.update(record.container_id, state=ContainerState.STARTING)

        async def work(ctx: OperationContext) -> dict[str, Any]:
            async with self._locks[record.container_id]:
                spec = self.spec_of(record)
                try:
                    launched = await self.node.relaunch(
                        record.container_id, spec, record.ip_address or ""
                    )
                except QuiltError as exc:
                    self.store.containers.update(
                        record.container_id, state=ContainerState.ERROR, error_message=exc.message
                    )
                    raise
                ctx.add_phases(launched.phases)
                self.store.containers.update(
                    record.container_id,
                    state=ContainerState.RUNNING,
                    pid=launched.pid,
                    started_at=launched.started_at,
                    exit_code=None,
                    exited_at=None,
                    stop_requested=False,
                    error_message=None,
                )
            self.watch(record.container_id)
            return {"container_id": record.container_id, "state": ContainerState.RUNNING.value}

        return self.operations.submit(
            tenant_id,
            f"containers.{kind}",
            work,
            target_type="container",
            target_id=record.container_id,
        )

    def rename(self, tenant_id: TenantId, container_id: str, new_name: str) -> tuple[str, str]:
        """Give the container a new name (unique in the tenant); return (old, new)."""
        record = self.get(tenant_id, container_id)
        validation.check_name(new_name)
        if new_name != record.name:
            self.store.containers.update(record.container_id, name=new_name)
        return record.name, new_name

    # -- environment -------------------------------------------------------------------------

    def environment(self, tenant_id: TenantId, container_id: str) -> dict[str, str]:
        """The environment new execs get."""
        return self.get(tenant_id, container_id).environment

    def set_environment(
        self, tenant_id: TenantId, container_id: str, env: Mapping[str, str], *, merge: bool
    ) -> dict[str, str]:
        """Replace (PUT) or merge into (PATCH) the environment; new execs see it at once."""
        record = self.get(tenant_id, container_id)
        checked = validation.check_environment(env)
        updated = record.environment | checked if merge else checked
        self.store.containers.update(record.container_id, environment=updated)
        return updated

    # -- restart safety ----------------------------------------------------------------------

    async def reconcile(self) -> dict[str, list[str]]:
        """Match every stored container with the host; clean what no row explains."""
        adopted: list[str] = []
        ended: list[str] = []
        records = self.store.containers.list(None)
        for record in records:
            if record.state not in states.LIVE:
                continue
            pid = self.node.init_pid(record.container_id)
            if record.state is ContainerState.STARTING:
                # A start the previous server did not finish: its operation failed too.
                if pid is not None:
                    await self.node.kill(record.container_id)
                self.store.containers.update(
                    record.container_id,
                    state=ContainerState.ERROR,
                    error_message="the server stopped while this container was starting",
                )
                ended.append(record.container_id)
            elif pid is not None:
                self.store.containers.update(record.container_id, pid=pid)
                self.watch(record.container_id)
                adopted.append(record.container_id)
            else:
                self._record_exit(record.container_id)
                ended.append(record.container_id)
        # The firewall's rules are rebuilt for exactly the containers that run, in one go.
        self.node.network.isolate(
            {
                r.container_id: (r.tenant_id, IPv4Address(r.ip_address))
                for r in records
                if r.container_id in adopted and r.ip_address
            }
        )
        known = {r.container_id for r in records}
        orphans = sorted(self.node.hosted() - known)
        for orphan in orphans:
            await self.node.remove(orphan)
        freed = self.store.addresses.release_all_except(known)
        return {"adopted": adopted, "ended": ended, "orphans": orphans, "addresses": freed}
