"""Operations: work that outlives its request, persisted at every status change.

A route submits a coroutine; the runner writes the record (`accepted`), answers with a
receipt, and runs the work in a task the server owns, timing each phase it declares.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from quilt import logs
from quilt.domain.ids import OperationId, TenantId, new_operation_id
from quilt.domain.records import OperationRecord, PhaseRecord, now
from quilt.domain.states import OperationStatus
from quilt.errors import NotFound, QuiltError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

    from quilt.engine.tasks import Tasks
    from quilt.store.store import Store

log = logs.get(__name__)

INTERRUPTED = "INTERRUPTED"


class OperationContext:
    """Handed to the work: declare phases, add warnings and per-item results, report progress."""

    def __init__(self, record: OperationRecord, store: Store) -> None:
        self.record = record
        self._store = store

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time one step and persist it when it ends."""
        at = now()
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = round((time.perf_counter() - started) * 1000, 3)
            self.record.phases.append(PhaseRecord(name, at, elapsed))
            self.save()

    def add_phases(self, phases: list[PhaseRecord]) -> None:
        """Record phases timed elsewhere (by the node)."""
        self.record.phases.extend(phases)

    def item(self, result: dict[str, Any], *, progress_pct: float | None = None) -> None:
        """Record one per-item result (batch work)."""
        self.record.items.append(result)
        if progress_pct is not None:
            self.record.progress_pct = progress_pct
        self.save()

    def progress(self, pct: float) -> None:
        """Record how far the work has come (0-100)."""
        self.record.progress_pct = pct
        self.save()

    def warn(self, message: str) -> None:
        """Record something the work could not honour exactly."""
        self.record.warnings.append(message)

    def save(self) -> None:
        """Persist the record as it is now."""
        self.record.updated_at = now()
        self._store.operations.save(self.record)


class Operations:
    """Creates, runs and reads operations."""

    def __init__(self, store: Store, tasks: Tasks) -> None:
        self.store = store
        self.tasks = tasks
        self._running: dict[str, asyncio.Task[None]] = {}

    def submit(
        self,
        tenant_id: TenantId,
        operation_type: str,
        work: Callable[[OperationContext], Awaitable[dict[str, Any]]],
        *,
        target_type: str | None = None,
        target_id: str | None = None,
    ) -> OperationRecord:
        """Persist a new operation and start its work in the background."""
        moment = now()
        record = OperationRecord(
            operation_id=new_operation_id(),
            tenant_id=tenant_id,
            operation_type=operation_type,
            status=OperationStatus.ACCEPTED,
            created_at=moment,
            updated_at=moment,
            target_resource_type=target_type,
            target_resource_id=target_id,
        )
        self.store.operations.insert(record)
        task = self.tasks.spawn(self._run(record, work), name=f"operation {record.operation_id}")
        self._running[record.operation_id] = task
        task.add_done_callback(lambda _: self._running.pop(record.operation_id, None))
        return record

    async def settle(self, record: OperationRecord, timeout: float) -> OperationRecord:
        """The operation once it is finished, or as it is after `timeout` seconds."""
        task = self._running.get(record.operation_id)
        if task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout)
        return self.get(record.tenant_id, record.operation_id)

    async def _run(
        self,
        record: OperationRecord,
        work: Callable[[OperationContext], Awaitable[dict[str, Any]]],
    ) -> None:
        ctx = OperationContext(record, self.store)
        record.status = OperationStatus.RUNNING
        record.started_at = now()
        ctx.save()
        try:
            result = await work(ctx)
        except QuiltError as exc:
            record.status = OperationStatus.FAILED
            record.error = {"error": exc.message, "error_code": exc.code, "details": exc.details}
            record.reason_code = record.reason_code or exc.code
            record.reason_message = exc.message
            record.message = exc.message
        except asyncio.CancelledError:
            record.status = OperationStatus.CANCELLED
            record.reason_code = INTERRUPTED
            record.reason_message = record.message = "the server shut down during this operation"
            self._finish(ctx)
            raise
        except Exception as exc:
            log.exception("operation.crashed", operation_id=record.operation_id)
            record.status = OperationStatus.FAILED
            record.reason_code = "INTERNAL"
            record.reason_message = record.message = f"{type(exc).__name__}: {exc}"
            self._finish(ctx)
            return
        else:
            record.status = OperationStatus.SUCCEEDED
            record.result = result
            record.message = "done"
            for key in ("container_id", "snapshot_id"):
                if key in result and record.target_resource_id is None:
                    record.target_resource_id = str(result[key])
        self._finish(ctx)

    def _finish(self, ctx: OperationContext) -> None:
        ctx.record.completed_at = now()
        ctx.record.progress_pct = 100
        ctx.save()

    def get(self, tenant_id: TenantId, operation_id: str) -> OperationRecord:
        """One operation of the tenant."""
        record = self.store.operations.get(tenant_id, operation_id)
        if record is None:
            raise NotFound(f"operation {operation_id} does not exist")
        return record

    def fail_interrupted(self) -> list[OperationId]:
        """Finish, as failed, every operation a previous server left running."""
        failed: list[OperationId] = []
        for record in self.store.operations.unfinished():
            record.status = OperationStatus.FAILED
            record.reason_code = INTERRUPTED
            record.reason_message = "the server stopped while this operation was running"
            record.message = record.reason_message
            record.completed_at = record.updated_at = now()
            self.store.operations.save(record)
            failed.append(record.operation_id)
        return failed
