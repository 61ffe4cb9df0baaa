"""Cleanup: releasing a container's host resources, and remembering what was released.

Deleting a container releases its resources one by one (`RESOURCES`: the runtime's
container, its network, its mounts, its root filesystem layer, its logs and state) and
records a task per resource with its outcome and the bytes it freed. A resource that could
not be released (a busy mount, a failing runtime) leaves a `failed` task; the retrier tries
it again every `retry_seconds`, up to `MAX_ATTEMPTS`, so nothing stays behind silently.
Forced cleanup does the same to a container that has stopped, on an explicit confirmation.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from quilt import logs
from quilt.domain import states
from quilt.domain.activity import Happening
from quilt.domain.ids import new_cleanup_task_id
from quilt.domain.records import CleanupTaskRecord, now, rfc3339
from quilt.engine.containers import conflict, parse_attachment
from quilt.errors import BadRequest, NotFound, QuiltError
from quilt.node.interface import RESOURCES

if TYPE_CHECKING:
    from quilt.domain.ids import TenantId
    from quilt.domain.records import ContainerRecord
    from quilt.engine.activity import Activity
    from quilt.engine.containers import Containers
    from quilt.engine.volumes import Volumes
    from quilt.node.interface import Node
    from quilt.store.store import Store

log = logs.get(__name__)

STATUSES: Final = ("pending", "in_progress", "completed", "failed")
MAX_ATTEMPTS: Final = 5
MAX_LIMIT: Final = 1000


class Teardown:
    """Releases a container's resources and records a task for each."""

    def __init__(self, store: Store, node: Node, activity: Activity) -> None:
        self.store = store
        self.node = node
        self.activity = activity

    async def run(self, record: ContainerRecord) -> list[CleanupTaskRecord]:
        """Release every resource of the container; the tasks, as recorded."""
        started = now()
        tasks = []
        for resource in RESOURCES:
            freed, error = await self._release(record.container_id, resource)
            tasks.append(
                CleanupTaskRecord(
                    task_id=new_cleanup_task_id(),
                    tenant_id=record.tenant_id,
                    container_id=record.container_id,
                    resource_type=resource,
                    status="failed" if error else "completed",
                    created_at=started,
                    updated_at=now(),
                    attempts=1,
                    bytes_freed=freed,
                    error_message=error,
                )
            )
        self.store.cleanup_tasks.insert_many(tasks)
        failed = [t for t in tasks if t.status == "failed"]
        if failed:
            self._report_failure(record.tenant_id, record.container_id, failed)
        return tasks

    async def retry(self, task: CleanupTaskRecord) -> CleanupTaskRecord:
        """Try a failed task again; the task as it now is."""
        self.store.cleanup_tasks.update(task.task_id, status="in_progress")
        freed, error = await self._release(task.container_id, task.resource_type)
        values: dict[str, Any] = {
            "status": "failed" if error else "completed",
            "attempts": task.attempts + 1,
            "bytes_freed": freed,
            "error_message": error,
        }
        self.store.cleanup_tasks.update(task.task_id, **values)
        if error and task.attempts + 1 >= MAX_ATTEMPTS:
            self._report_failure(task.tenant_id, task.container_id, [task], gave_up=True)
        return replace(task, **values, updated_at=now())

    async def _release(self, container_id: str, resource: str) -> tuple[int | None, str | None]:
        try:
            return await self.node.release(container_id, resource), None
        except (QuiltError, OSError) as exc:
            log.warning("cleanup.failed", container_id=container_id, resource=resource, error=exc)
            return None, str(exc) or type(exc).__name__

    def _report_failure(
        self,
        tenant_id: TenantId,
        container_id: str,
        failed: list[CleanupTaskRecord],
        *,
        gave_up: bool = False,
    ) -> None:
        kinds = ", ".join(t.resource_type for t in failed)
        tail = f"gave up after {MAX_ATTEMPTS} attempts" if gave_up else "it will be retried"
        self.activity.record(
            tenant_id,
            Happening(
                "cleanup.failed",
                "container",
                container_id,
                f"cleanup of container {container_id} could not release {kinds}; {tail}",
                details={"tasks": [t.task_id for t in failed]},
            ),
        )


class Cleanup:
    """The cleanup concern: status, tasks, forced cleanup and the retrier."""

    def __init__(
        self,
        store: Store,
        teardown: Teardown,
        containers: Containers,
        volumes: Volumes,
        *,
        retry_seconds: float,
    ) -> None:
        self.store = store
        self.teardown = teardown
        self.containers = containers
        self.volumes = volumes
        self.retry_seconds = retry_seconds
        self.last_retry_at: str | None = None

    def status(self, tenant_id: TenantId) -> dict[str, Any]:
        """Counts of the tenant's tasks per status, bytes freed, and the retrier's schedule."""
        counts = self.store.cleanup_tasks.counts(tenant_id)
        by_status = {s: counts.get(s, 0) for s in STATUSES}
        return {
            **by_status,
            "total": sum(by_status.values()),
            "bytes_freed": self.store.cleanup_tasks.freed(tenant_id),
            "healthy": by_status["failed"] == 0,
            "retry_interval_seconds": self.retry_seconds,
            "max_attempts": MAX_ATTEMPTS,
            "last_retry_at": self.last_retry_at,
        }

    def tasks(
        self,
        tenant_id: TenantId,
        *,
        container_id: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[CleanupTaskRecord]:
        """The tenant's tasks, newest first; of one container (404 if it has none, ever)."""
        if status is not None and status not in STATUSES:
            raise BadRequest(
                f"status {status!r} is not known",
                details={"expected": list(STATUSES), "received": status},
            )
        if limit is not None and not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(
                f"limit must be between 1 and {MAX_LIMIT}", details={"received": limit}
            )
        found = self.store.cleanup_tasks.list(
            tenant_id,
            container_id=container_id,
            statuses=None if status is None else [status],
            limit=limit,
        )
        if (
            container_id is not None
            and not found
            and self.store.containers.get(tenant_id, container_id) is None
        ):
            raise NotFound(f"container {container_id} does not exist")
        return found

    async def force(
        self, tenant_id: TenantId, container_id: str, *, confirm: bool, remove_volumes: bool
    ) -> dict[str, Any]:
        """Release everything of a container that is not running, and forget it.

        With `remove_volumes`, the volumes it attached go too, unless another container
        still attaches them.
        """
        record = self.containers.get(tenant_id, container_id)
        if not confirm:
            raise BadRequest(
                "forced cleanup needs confirm: true",
                details={"field": "confirm"},
                hint="it deletes the container and frees its resources; it cannot be undone",
            )
        if record.state in states.LIVE:
            raise conflict(record, "force cleanup of")
        tasks = await self.containers.delete(tenant_id, container_id, only_if_ended=True)
        removed, kept = [], []
        if remove_volumes:
            for text in record.volumes:
                volume = self.store.volumes.by_id(parse_attachment(text).volume_id)
                if volume is None:
                    continue
                if self.volumes.attached(volume):
                    kept.append(volume.name)
                    continue
                self.volumes.remove_now(volume)
                removed.append(volume.name)
        self.teardown.activity.record(
            tenant_id,
            Happening(
                "cleanup.forced",
                "container",
                record.container_id,
                f"container {record.name} was cleaned up by force",
                record.name,
                {"volumes_removed": removed},
            ),
        )
        return {
            "container_id": record.container_id,
            "tasks": tasks,
            "bytes_freed": sum(t.bytes_freed or 0 for t in tasks),
            "volumes_removed": removed,
            "volumes_kept": kept,
        }

    async def retry_failed(self) -> int:
        """One round of retries of every failed task with attempts left; how many now passed."""
        self.last_retry_at = rfc3339(now())
        passed = 0
        for task in self.store.cleanup_tasks.list(None, statuses=["failed"]):
            if task.attempts >= MAX_ATTEMPTS:
                continue
            if (await self.teardown.retry(task)).status == "completed":
                passed += 1
        return passed

    async def run_retrier(self) -> None:
        """Retry failed tasks every `retry_seconds`, forever."""
        while True:
            await asyncio.sleep(self.retry_seconds)
            await self.retry_failed()
