"""Forks: writable branches of a live container, one or many from a single capture.

The parent is frozen only while its writable layer is captured; every child starts from its
own writable copy of that capture, so parent and children never see each other's later
writes. Process memory is not carried (no working checkpoint/restore on this host): each
child runs the parent's main command afresh on the copied filesystem.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING, Any, Final

from quilt import logs
from quilt.domain import snapshots as rules
from quilt.domain import validation
from quilt.engine.snapshots import capturable, capture, capture_warnings
from quilt.errors import BadRequest

if TYPE_CHECKING:
    from collections.abc import Mapping

    from quilt.domain.ids import TenantId
    from quilt.domain.records import ContainerRecord, OperationRecord
    from quilt.domain.snapshots import ResumePolicy
    from quilt.engine.containers import Containers
    from quilt.engine.operations import OperationContext, Operations
    from quilt.engine.snapshots import CaptureOptions
    from quilt.node.interface import Node

log = logs.get(__name__)

PARALLEL_LAUNCHES: Final = 4  # children started at once: runc is CPU-bound on a small host


class Forks:
    """The forks concern."""

    def __init__(self, node: Node, containers: Containers, operations: Operations) -> None:
        self.node = node
        self.containers = containers
        self.operations = operations

    def submit(
        self,
        tenant_id: TenantId,
        container_id: str,
        options: CaptureOptions,
        *,
        name: str | None,
        labels: Mapping[str, str] | None,
        count: int,
        resume_policy: ResumePolicy,
    ) -> OperationRecord:
        """Fork the container `count` times from one capture, as an operation."""
        parent = capturable(self.containers, tenant_id, container_id, "fork")
        if not 1 <= count <= rules.MAX_FORKS:
            raise BadRequest(
                f"count must be between 1 and {rules.MAX_FORKS}",
                details={"expected": f"1..{rules.MAX_FORKS}", "received": str(count)},
            )
        validation.check_labels(dict(labels or {}))
        base = name or f"{parent.name}-fork-{secrets.token_hex(2)}"
        names = rules.fork_names(base, count)
        for child in names:
            self.containers.check_new_name(tenant_id, child)

        async def work(ctx: OperationContext) -> dict[str, Any]:
            for warning in capture_warnings(parent, options):
                ctx.warn(warning)
            children, pause_ms = await self._fork(
                ctx, tenant_id, parent, options, names, labels, resume_policy
            )
            ids = [c.container_id for c in children]
            return {
                "container_id": ids[0],
                "container_ids": ids,
                "names": [c.name for c in children],
                "parent_container_id": parent.container_id,
                "state": children[0].state.value,
                "pause_ms": pause_ms,
            }

        return self.operations.submit(
            tenant_id,
            "containers.fork",
            work,
            target_type="container",
            target_id=parent.container_id,
        )

    async def _fork(
        self,
        ctx: OperationContext,
        tenant_id: TenantId,
        parent: ContainerRecord,
        options: CaptureOptions,
        names: list[str],
        labels: Mapping[str, str] | None,
        resume_policy: ResumePolicy,
    ) -> tuple[list[ContainerRecord], float]:
        """Capture the parent once, start every child from the capture, drop the capture."""
        layer = self.node.capture_layer(ctx.record.operation_id)
        current, captured = await capture(
            self.containers, self.node, tenant_id, parent.container_id, layer, options, "fork"
        )
        ctx.add_phases(captured.phases)
        gate = asyncio.Semaphore(PARALLEL_LAUNCHES)
        spec = self.containers.spec_of(current, container_id=None, base_layer=layer)

        async def one(child_name: str) -> ContainerRecord:
            async with gate:
                return await self.containers.make(
                    ctx,
                    tenant_id,
                    spec,
                    name=child_name,
                    labels=current.labels if labels is None else labels,
                    resume_policy=resume_policy,
                    source_snapshot_id=current.source_snapshot_id,
                    forked_from=current.container_id,
                )

        try:
            outcomes = await asyncio.gather(*(one(n) for n in names), return_exceptions=True)
        finally:
            self.node.drop_layer(layer)
        children = [o for o in outcomes if not isinstance(o, BaseException)]
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if failures:
            # All or nothing: a fork call never leaves some of its children behind.
            for child in children:
                await self.containers.delete(tenant_id, child.container_id)
            raise failures[0]
        log.info(
            "container.forked",
            parent=parent.container_id,
            children=len(children),
            pause_ms=captured.pause_ms,
        )
        return children, captured.pause_ms
