"""Snapshots and clones: capture a container's filesystem, keep it, start new containers from it.

A snapshot is an immutable capture of a container's writable layer (the container is frozen
only for the capture itself), plus the configuration a clone needs. Clones start from a
writable copy of it, so they never see the source's later writes, and deleting the snapshot
later never touches them; the snapshot is still refused deletion while clones or child
snapshots stand on it, so lineage always resolves.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quilt import logs
from quilt.domain import snapshots as rules
from quilt.domain import validation
from quilt.domain.ids import SnapshotId, TenantId, new_snapshot_id
from quilt.domain.records import ContainerRecord, SnapshotRecord, now
from quilt.domain.snapshots import ConsistencyMode, NetworkMode, ResumePolicy, VolumeMode
from quilt.domain.states import ContainerState
from quilt.engine.containers import conflict, parse_attachment
from quilt.errors import NotFound, QuiltError
from quilt.node.interface import LaunchSpec

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from quilt.domain.records import OperationRecord
    from quilt.engine.containers import Containers
    from quilt.engine.operations import OperationContext, Operations
    from quilt.node.interface import Captured, Node, VolumeAttachment
    from quilt.store.store import Store

log = logs.get(__name__)

MEASURE_QUIET = 0.5  # seconds without a capture before a snapshot's size is measured


@dataclass(frozen=True)
class CaptureOptions:
    """The modes a snapshot or fork request asks for (validated by the wire models)."""

    consistency_mode: ConsistencyMode = ConsistencyMode.CRASH
    network_mode: NetworkMode = NetworkMode.RESET
    volume_mode: VolumeMode = VolumeMode.EXCLUDE


@dataclass(frozen=True)
class Lineage:
    """A snapshot's ancestry (itself first), what was taken on top of it, and its clones."""

    chain: list[tuple[SnapshotRecord, int]]
    children: list[SnapshotRecord]
    clones: list[ContainerRecord]


def capture_warnings(record: ContainerRecord, options: CaptureOptions) -> list[str]:
    """What this host cannot honour of the requested modes, said plainly."""
    warnings = rules.network_warnings(options.network_mode)
    if options.volume_mode is not VolumeMode.EXCLUDE and not record.volumes:
        warnings.append(
            f"volume_mode {options.volume_mode.value!r}: the container has no volumes "
            "attached, so only its own filesystem is captured"
        )
    return warnings


def included_volumes(record: ContainerRecord, options: CaptureOptions) -> list[VolumeAttachment]:
    """The attached volumes whose data the capture copies in (every one, unless `exclude`).

    Every volume here is named and the tenant's own, so `include_named` and
    `include_all_allowed` take the same set.
    """
    if options.volume_mode is VolumeMode.EXCLUDE:
        return []
    return [parse_attachment(text) for text in record.volumes]


def capturable(
    containers: Containers, tenant_id: TenantId, container_id: str, action: str
) -> ContainerRecord:
    """The tenant's container, if its filesystem can be captured now (409 mid-start)."""
    record = containers.get(tenant_id, container_id)
    if record.state is ContainerState.STARTING:
        raise conflict(record, action)
    return record


async def capture(
    containers: Containers,
    node: Node,
    tenant_id: TenantId,
    container_id: str,
    layer: str,
    options: CaptureOptions,
    action: str,
) -> tuple[ContainerRecord, Captured]:
    """Capture the container's writable layer at `layer`, holding its lifecycle lock."""
    async with containers.lock(container_id):
        source = capturable(containers, tenant_id, container_id, action)
        flush = options.consistency_mode is ConsistencyMode.APP
        volumes = included_volumes(source, options)
        return source, await node.capture(container_id, layer, flush=flush, volumes=volumes)


class Snapshots:
    """The snapshots concern (and clones, which start from a snapshot)."""

    def __init__(
        self,
        store: Store,
        node: Node,
        containers: Containers,
        operations: Operations,
    ) -> None:
        self.store = store
        self.node = node
        self.containers = containers
        self.operations = operations
        self._cloning: Counter[str] = Counter()  # snapshots a clone is being made from right now
        self._unmeasured: asyncio.Queue[str] = asyncio.Queue()
        self._last_capture = 0.0

    # -- reading ------------------------------------------------------------------------

    def get(self, tenant_id: TenantId, snapshot_id: str) -> SnapshotRecord:
        """One of the tenant's snapshots."""
        record = self.store.snapshots.get(tenant_id, snapshot_id)
        if record is None:
            raise NotFound(f"snapshot {snapshot_id} does not exist")
        return record

    def search(
        self, tenant_id: TenantId, *, container_id: str | None, labels: Sequence[str]
    ) -> list[SnapshotRecord]:
        """The tenant's snapshots, optionally of one container (id or name) and with labels."""
        wanted = rules.parse_label_filters(labels)
        if container_id is not None:
            container_id = self.containers.id_for(tenant_id, container_id)
        found = self.store.snapshots.list(tenant_id, container_id=container_id)
        return [s for s in found if rules.matches_labels(s.labels, wanted)]

    def lineage(self, tenant_id: TenantId, snapshot_id: str) -> Lineage:
        """Where the snapshot came from and what came from it."""
        record = self.get(tenant_id, snapshot_id)
        everyone: dict[str, SnapshotRecord] = {
            s.snapshot_id: s for s in self.store.snapshots.list(tenant_id)
        }
        children = [s for s in everyone.values() if s.parent_snapshot_id == snapshot_id]
        clones = [
            c for c in self.store.containers.list(tenant_id) if c.source_snapshot_id == snapshot_id
        ]
        return Lineage(rules.lineage(record, everyone), children, clones)

    # -- snapshot ------------------------------------------------------------------------

    def submit(
        self,
        tenant_id: TenantId,
        container_id: str,
        options: CaptureOptions,
        *,
        labels: Mapping[str, str],
        ttl_seconds: int | None,
    ) -> OperationRecord:
        """Capture the container's filesystem as a new snapshot, as an operation."""
        record = capturable(self.containers, tenant_id, container_id, "snapshot")
        validation.check_labels(dict(labels))

        async def work(ctx: OperationContext) -> dict[str, Any]:
            for warning in capture_warnings(record, options):
                ctx.warn(warning)
            snapshot = await self.take(
                tenant_id, record.container_id, options, labels=labels, ttl_seconds=ttl_seconds
            )
            ctx.add_phases(snapshot.captured.phases)
            return {
                "snapshot_id": snapshot.record.snapshot_id,
                "container_id": record.container_id,
                "pause_ms": snapshot.captured.pause_ms,
            }

        return self.operations.submit(
            tenant_id,
            "containers.snapshot",
            work,
            target_type="container",
            target_id=record.container_id,
        )

    async def take(
        self,
        tenant_id: TenantId,
        container_id: str,
        options: CaptureOptions,
        *,
        labels: Mapping[str, str],
        ttl_seconds: int | None,
    ) -> _Taken:
        """Freeze, capture, thaw, measure and record one snapshot of the container."""
        snapshot_id = new_snapshot_id()
        layer = self.node.snapshot_layer(snapshot_id)
        source, captured = await capture(
            self.containers, self.node, tenant_id, container_id, layer, options, "snapshot"
        )
        try:
            record = SnapshotRecord(
                snapshot_id=snapshot_id,
                tenant_id=tenant_id,
                source_container_id=source.container_id,
                source_container_name=source.name,
                parent_snapshot_id=source.source_snapshot_id,
                image=source.image,
                config=_config(source) | {"volumes_included": self._included(source, options)},
                labels=dict(labels),
                created_at=now(),
                consistency_mode=options.consistency_mode.value,
                network_mode=options.network_mode.value,
                volume_mode=options.volume_mode.value,
                ttl_seconds=ttl_seconds,
            )
            self.store.snapshots.insert(record)
        except BaseException:
            self.node.drop_layer(layer)
            raise
        # Walking 10,000 files takes longer than the capture: measure after answering.
        self._last_capture = time.monotonic()
        self._unmeasured.put_nowait(snapshot_id)
        log.info("snapshot.taken", snapshot_id=snapshot_id, pause_ms=captured.pause_ms)
        return _Taken(record, captured)

    def _included(self, source: ContainerRecord, options: CaptureOptions) -> list[dict[str, str]]:
        """The volumes a capture copied in, by name and mount path, for the record."""
        found = []
        for attachment in included_volumes(source, options):
            volume = self.store.volumes.by_id(attachment.volume_id)
            name = volume.name if volume is not None else attachment.volume_id
            found.append({"name": name, "target": attachment.target})
        return found

    async def run_measurer(self) -> None:
        """Measure new snapshots one at a time, once captures have been quiet for a moment.

        A walk of the pool competes with captures for the disk, so it waits until no capture
        has happened for MEASURE_QUIET seconds; until measured, `size_bytes` is null.
        """
        for record in self.store.snapshots.list(None):
            if record.size_bytes is None:  # left unmeasured by a previous server
                self._unmeasured.put_nowait(record.snapshot_id)
        while True:
            snapshot_id = await self._unmeasured.get()
            # A quiet period, not an event: sleep until no capture happened for a while.
            while (quiet := time.monotonic() - self._last_capture) < MEASURE_QUIET:  # noqa: ASYNC110
                await asyncio.sleep(MEASURE_QUIET - quiet)
            size = await self.node.layer_size(self.node.snapshot_layer(snapshot_id))
            self.store.snapshots.update(snapshot_id, size_bytes=size)

    # -- pin, delete, expiry --------------------------------------------------------------

    def pin(self, tenant_id: TenantId, snapshot_id: str, *, pinned: bool) -> SnapshotRecord:
        """Pin (keep past its TTL, refuse deletes) or unpin a snapshot."""
        record = self.get(tenant_id, snapshot_id)
        self.store.snapshots.update(record.snapshot_id, pinned=pinned)
        return self.get(tenant_id, snapshot_id)

    def delete(self, tenant_id: TenantId, snapshot_id: str) -> None:
        """Delete an unpinned snapshot nothing stands on, and its captured layer."""
        self._delete(self.get(tenant_id, snapshot_id))

    def _delete(self, record: SnapshotRecord) -> None:
        clones: list[str] = list(self.store.containers.cloned_from(record.snapshot_id))
        if self._cloning[record.snapshot_id]:
            clones.append("(a clone being created)")
        rules.check_deletable(
            record, containers=clones, children=self.store.snapshots.children(record.snapshot_id)
        )
        # Row first: a crash between the two leaves an orphan layer, which start-up removes.
        self.store.snapshots.delete(record.snapshot_id)
        self.node.drop_layer(self.node.snapshot_layer(record.snapshot_id))

    def reap_expired(self) -> list[SnapshotId]:
        """Delete every expired, unpinned snapshot nothing stands on; return their ids."""
        moment = now()
        reaped: list[SnapshotId] = []
        for record in self.store.snapshots.list(None):
            if not rules.is_expired(record, moment):
                continue
            try:
                self._delete(record)
            except QuiltError as exc:  # in use: try again on a later pass
                log.debug("snapshot.expiry_deferred", snapshot_id=record.snapshot_id, why=exc.code)
                continue
            reaped.append(record.snapshot_id)
        if reaped:
            log.info("snapshot.expired", snapshot_ids=reaped)
        return reaped

    async def run_reaper(self, interval: float) -> None:
        """Reclaim expired snapshots every `interval` seconds, until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                self.reap_expired()
            except Exception:  # the reaper must outlive one bad pass
                log.exception("snapshot.reaper_failed")

    def reconcile(self) -> dict[str, list[str]]:
        """Remove captured layers no snapshot row explains, and every leftover fork capture."""
        known = {s.snapshot_id for s in self.store.snapshots.list(None)}
        orphans = sorted(self.node.stored_layers("snapshots") - known)
        for name in orphans:
            self.node.drop_layer(self.node.snapshot_layer(name))
        captures = sorted(self.node.stored_layers("captures"))
        for name in captures:
            self.node.drop_layer(self.node.capture_layer(name))
        return {"snapshot_layers": orphans, "captures": captures}

    # -- clone ---------------------------------------------------------------------------

    def submit_clone(
        self,
        tenant_id: TenantId,
        snapshot_id: str,
        *,
        name: str | None,
        labels: Mapping[str, str] | None,
        resume_policy: ResumePolicy,
    ) -> OperationRecord:
        """Start a new container from the snapshot's filesystem, as an operation."""
        snapshot = self.get(tenant_id, snapshot_id)
        chosen = name or f"{snapshot.source_container_name or 'clone'}-{snapshot_id[-6:]}"
        self.containers.check_new_name(tenant_id, chosen)
        validation.check_labels(dict(labels or {}))
        self._cloning[snapshot_id] += 1

        async def work(ctx: OperationContext) -> dict[str, Any]:
            try:
                source = self.get(tenant_id, snapshot_id)
                spec = spec_from(source, base_layer=self.node.snapshot_layer(snapshot_id))
                record = await self.containers.make(
                    ctx,
                    tenant_id,
                    spec,
                    name=chosen,
                    labels=source.config.get("labels", {}) if labels is None else labels,
                    resume_policy=resume_policy,
                    source_snapshot_id=snapshot_id,
                )
            finally:
                self._cloning[snapshot_id] -= 1
            return {
                "container_id": record.container_id,
                "snapshot_id": snapshot_id,
                "name": record.name,
                "state": record.state.value,
            }

        try:
            return self.operations.submit(
                tenant_id,
                "snapshots.clone",
                work,
                target_type="snapshot",
                target_id=snapshot_id,
            )
        except BaseException:
            self._cloning[snapshot_id] -= 1
            raise


@dataclass(frozen=True)
class _Taken:
    record: SnapshotRecord
    captured: Captured


def _config(record: ContainerRecord) -> dict[str, Any]:
    """What a clone of this container runs with (its name and labels are the clone's own)."""
    return {
        "command": record.command,
        "environment": record.environment,
        "working_directory": record.working_directory,
        "memory_limit_mb": record.memory_limit_mb,
        "cpu_limit_percent": record.cpu_limit_percent,
        "strict": record.strict,
        "labels": record.labels,
    }


def spec_from(snapshot: SnapshotRecord, *, base_layer: str) -> LaunchSpec:
    """The launch spec of a clone of this snapshot."""
    config = snapshot.config
    command = config.get("command")
    return LaunchSpec(
        image=snapshot.image,
        command=tuple(command) if command else None,
        environment=dict(config.get("environment") or {}),
        working_directory=str(config.get("working_directory") or "/"),
        memory_limit_mb=int(config["memory_limit_mb"]),
        cpu_limit_percent=float(config["cpu_limit_percent"]),
        strict=bool(config.get("strict")),
        base_layer=base_layer,
        network_group=snapshot.tenant_id,
    )
