"""Volumes: named, tenant-scoped data that outlives containers and server restarts.

A volume is a subvolume of the storage pool, bind-mounted into containers that attach it at
create (`volumes: ["name:/path[:ro]"]`). Containers store the volume's id, so a rename never
breaks an attachment; a volume cannot be deleted while a container still attaches it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quilt.domain import validation
from quilt.domain.ids import TenantId, new_volume_id
from quilt.domain.records import VolumeRecord, now
from quilt.engine.containers import parse_attachment
from quilt.errors import BadRequest, Conflict, NotFound

if TYPE_CHECKING:
    from collections.abc import Mapping

    from quilt.domain.records import ContainerRecord, OperationRecord
    from quilt.engine.operations import OperationContext, Operations
    from quilt.node.interface import Node
    from quilt.store.store import Store

DRIVERS = ("local",)


class Volumes:
    """The volumes concern."""

    def __init__(self, store: Store, node: Node, operations: Operations) -> None:
        self.store = store
        self.node = node
        self.operations = operations

    def get(self, tenant_id: TenantId, name: str) -> VolumeRecord:
        """One of the tenant's volumes, by name."""
        record = self.store.volumes.by_name(tenant_id, name)
        if record is None:
            raise NotFound(f"volume {name!r} does not exist")
        return record

    def all(self, tenant_id: TenantId) -> list[VolumeRecord]:
        """The tenant's volumes, by name."""
        return self.store.volumes.list(tenant_id)

    def create(
        self,
        tenant_id: TenantId,
        name: str,
        *,
        driver: str,
        labels: Mapping[str, str],
        size_limit_mb: int | None,
    ) -> VolumeRecord:
        """Make an empty volume."""
        validation.check_name(name)
        validation.check_labels(dict(labels))
        if driver not in DRIVERS:
            raise BadRequest(
                f"unknown volume driver {driver!r}",
                details={"expected": list(DRIVERS), "received": driver},
            )
        if size_limit_mb is not None:
            raise BadRequest(
                "size_limit_mb is not enforced by this server yet, so it is refused rather "
                "than ignored",
                details={"received": str(size_limit_mb)},
                hint="create the volume without size_limit_mb",
            )
        if self.store.volumes.by_name(tenant_id, name) is not None:
            raise Conflict(f"a volume named {name!r} already exists", details={"received": name})
        moment = now()
        record = VolumeRecord(
            volume_id=new_volume_id(),
            tenant_id=tenant_id,
            name=name,
            driver=driver,
            labels=dict(labels),
            size_limit_mb=size_limit_mb,
            created_at=moment,
            updated_at=moment,
        )
        self.node.create_volume(record.volume_id)
        try:
            self.store.volumes.insert(record)
        except BaseException:
            self.node.remove_volume(record.volume_id)
            raise
        return record

    def attached(self, record: VolumeRecord) -> list[tuple[ContainerRecord, str, bool]]:
        """Containers that attach the volume, with the target path and whether read-only."""
        found = []
        for container in self.store.containers.list(record.tenant_id):
            for text in container.volumes:
                attachment = parse_attachment(text)
                if attachment.volume_id == record.volume_id:
                    found.append((container, attachment.target, attachment.read_only))
        return found

    async def usage(self, record: VolumeRecord) -> int:
        """Bytes the volume's files take now."""
        return await self.node.volume_usage(record.volume_id)

    def rename(self, tenant_id: TenantId, name: str, new_name: str) -> VolumeRecord:
        """Give the volume a new name; containers that attach it keep it."""
        record = self.get(tenant_id, name)
        validation.check_name(new_name)
        if new_name != name:
            self.store.volumes.rename(record.volume_id, new_name)
        return self.get(tenant_id, new_name)

    def submit_delete(self, tenant_id: TenantId, name: str) -> OperationRecord:
        """Delete the volume and its data, as an operation; refused while attached."""
        record = self.get(tenant_id, name)
        users = self.attached(record)
        if users:
            raise Conflict(
                f"volume {name!r} is attached to {len(users)} container(s)",
                details={
                    "containers": [c.container_id for c, _, _ in users],
                    "state": users[0][0].state.value,
                },
                hint="delete the containers that attach it first",
            )

        async def work(ctx: OperationContext) -> dict[str, Any]:
            with ctx.phase("remove"):
                # Row first: a crash in between leaves an orphan subvolume, not a dangling row.
                self.store.volumes.delete(record.volume_id)
                self.node.remove_volume(record.volume_id)
            return {"name": record.name, "volume_id": record.volume_id, "deleted": True}

        return self.operations.submit(
            tenant_id, "volumes.delete", work, target_type="volume", target_id=record.name
        )

    def reconcile(self) -> list[str]:
        """Remove volume subvolumes no row explains (a crash mid-create or mid-delete)."""
        known = {v.volume_id for v in self.store.volumes.list(None)}
        orphans = sorted(self.node.stored_layers("volumes") - known)
        for volume_id in orphans:
            self.node.remove_volume(volume_id)
        return orphans
