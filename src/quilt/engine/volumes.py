"""Volumes: named, tenant-scoped data that outlives containers and server restarts.

A volume is a subvolume of the storage pool, bind-mounted into containers that attach it at
create (`volumes: ["name:/path[:ro]"]`). Containers store the volume's id, so a rename never
breaks an attachment; a volume cannot be deleted while a container still attaches it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from quilt.domain import validation
from quilt.domain.files import clean, shown
from quilt.domain.ids import TenantId, new_volume_id
from quilt.domain.records import VolumeRecord, now
from quilt.engine.containers import parse_attachment
from quilt.errors import BadRequest, Conflict, NotFound, PayloadTooLarge

if TYPE_CHECKING:
    from collections.abc import Mapping

    from quilt.domain.records import ContainerRecord, OperationRecord
    from quilt.drivers.storage.files import Entry
    from quilt.engine.operations import OperationContext, Operations
    from quilt.node.interface import Node
    from quilt.store.store import Store

DRIVERS: Final = ("local",)
MIB: Final = 1 << 20
MAX_PAGE_SIZE: Final = 1000


@dataclass(frozen=True)
class Listing:
    """One page of a directory's entries."""

    path: str
    entries: list[Entry]
    page: int
    page_size: int
    total: int


class Volumes:
    """The volumes concern."""

    def __init__(
        self, store: Store, node: Node, operations: Operations, *, file_limit_bytes: int
    ) -> None:
        self.store = store
        self.node = node
        self.operations = operations
        self.file_limit_bytes = file_limit_bytes

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
        self.node.create_volume(
            record.volume_id, None if size_limit_mb is None else size_limit_mb * MIB
        )
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

    # -- files ---------------------------------------------------------------------------

    async def ls(
        self, tenant_id: TenantId, name: str, path: str, *, page: int, page_size: int
    ) -> Listing:
        """One page of the entries of directory `path` in the volume, by name."""
        record = self.get(tenant_id, name)
        rel = clean(path)
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise BadRequest(
                f"page starts at 1 and page_size is 1 to {MAX_PAGE_SIZE}",
                details={"received": f"page={page}, page_size={page_size}"},
            )

        def listing() -> list[Entry]:
            with self.node.volume_files(record.volume_id) as tree:
                return tree.list(rel)

        entries = await asyncio.to_thread(listing)
        start = (page - 1) * page_size
        return Listing(
            path=shown(rel),
            entries=entries[start : start + page_size],
            page=page,
            page_size=page_size,
            total=len(entries),
        )

    async def write_file(
        self, tenant_id: TenantId, name: str, path: str, content: bytes, mode: int
    ) -> Entry:
        """Create or replace one file (parent directories made as needed), atomically."""
        record = self.get(tenant_id, name)
        if len(content) > self.file_limit_bytes:
            raise PayloadTooLarge(
                f"the file is larger than the {self.file_limit_bytes >> 20} MiB the files route "
                "takes",
                hint="send large files, or many, with POST /api/volumes/{name}/archive",
            )
        rel = clean(path)

        def write() -> Entry:
            with self.node.volume_files(record.volume_id) as tree:
                return tree.write(rel, content, mode)

        return await asyncio.to_thread(write)

    def open_file(self, tenant_id: TenantId, name: str, path: str) -> tuple[int, Entry]:
        """An fd to read one regular file of the volume from (the caller closes it)."""
        record = self.get(tenant_id, name)
        with self.node.volume_files(record.volume_id) as tree:
            return tree.open_file(clean(path))

    async def remove_file(
        self, tenant_id: TenantId, name: str, path: str, *, recursive: bool
    ) -> Entry:
        """Delete a file, link or directory (a non-empty directory only if `recursive`)."""
        record = self.get(tenant_id, name)
        rel = clean(path)

        def remove() -> Entry:
            with self.node.volume_files(record.volume_id) as tree:
                return tree.remove(rel, recursive=recursive)

        return await asyncio.to_thread(remove)

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
                self.remove_now(record)
            return {"name": record.name, "volume_id": record.volume_id, "deleted": True}

        return self.operations.submit(
            tenant_id, "volumes.delete", work, target_type="volume", target_id=record.name
        )

    def remove_now(self, record: VolumeRecord) -> None:
        """Delete the volume's row and data (the caller has checked nothing attaches it)."""
        # Row first: a crash in between leaves an orphan subvolume, not a dangling row.
        self.store.volumes.delete(record.volume_id)
        self.node.remove_volume(record.volume_id)

    def reconcile(self) -> list[str]:
        """Remove volume subvolumes no row explains (a crash mid-create or mid-delete)."""
        known = {v.volume_id for v in self.store.volumes.list(None)}
        orphans = sorted(self.node.stored_layers("volumes") - known)
        for volume_id in orphans:
            self.node.remove_volume(volume_id)
        return orphans
