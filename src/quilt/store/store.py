"""The store: opens the database, applies migrations, and offers one repository per concern.

Every method is one short transaction. Every state change is written here before the engine
announces it. Queries that read tenant resources always filter by tenant.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import asdict, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from sqlalchemy import bindparam, create_engine, delete, event, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from quilt.domain.ids import ContainerId, OperationId, SnapshotId, TenantId
from quilt.domain.records import (
    ActivityRecord,
    ApiKeyRecord,
    CleanupTaskRecord,
    ContainerRecord,
    NotificationRecord,
    OperationRecord,
    PhaseRecord,
    ServiceRecord,
    SnapshotRecord,
    VolumeRecord,
    now,
)
from quilt.domain.states import ContainerState, OperationStatus
from quilt.errors import Conflict
from quilt.store import schema

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from sqlalchemy.engine import Connection, Engine, RowMapping

MIGRATIONS = Path(__file__).parent / "migrations"


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands timestamps back naive; they were written in UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _with_utc(row: RowMapping, *times: str) -> dict[str, Any]:
    """A row as a dict, its `times` columns made timezone-aware."""
    data = dict(row)
    for key in times:
        data[key] = _utc(data[key])
    return data


def hash_secret(secret: str) -> str:
    """Hash an API key secret for storage (keys are 256-bit random, so SHA-256 suffices)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class Store:
    """The database and its per-concern repositories."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.containers = Containers(self.engine)
        self.addresses = Addresses(self.engine)
        self.operations = Operations(self.engine)
        self.snapshots = Snapshots(self.engine)
        self.volumes = Volumes(self.engine)
        self.services = Services(self.engine)
        self.api_keys = ApiKeys(self.engine)
        self.activity = Activity(self.engine)
        self.notifications = Notifications(self.engine)
        self.cleanup_tasks = CleanupTasks(self.engine)
        self.meta = Meta(self.engine)

    def migrate(self) -> None:
        """Bring the schema up to the newest migration (recorded in `alembic_version`)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def writable(self) -> bool:
        """Whether a write goes through right now (for health)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(schema.meta).where(schema.meta.c.key == "__probe__").values(value="1")
                )
        except Exception:  # noqa: BLE001 - health reports any failure as not writable
            return False
        return True

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL keeps readers off the writer's back; a killed server loses no committed row.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class _Repository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine


def _container(row: RowMapping) -> ContainerRecord:
    data = _with_utc(row, "created_at", "started_at", "exited_at")
    data["state"] = ContainerState(data["state"])
    return ContainerRecord(**data)


_ONE_CONTAINER = select(schema.containers).where(
    schema.containers.c.tenant_id == bindparam("t"),
    schema.containers.c.container_id == bindparam("i"),
)
"""Built once: the hottest query (every exec reads its container) skips rebuilding it."""


class Containers(_Repository):
    """Container rows, always looked up within a tenant.

    `watchers` are called after each write with the row as it now is, or, for a delete, as
    it was (and `gone` true). The row is read once, whoever listens.
    """

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.watchers: list[Callable[[ContainerRecord, bool], None]] = []
        # Rows as last read, for `cached`. Every write below drops its row and bumps the
        # version, and a read made while a write ran is not kept, so an entry is never older
        # than the last write this process made (the server is the database's only writer).
        self._rows: dict[str, ContainerRecord] = {}
        self._version = 0
        self._lock = threading.Lock()

    def _written(self, container_id: str) -> None:
        with self._lock:
            self._version += 1
            self._rows.pop(container_id, None)

    def _changed(self, record: ContainerRecord | None, *, gone: bool = False) -> None:
        if record is not None:
            for watcher in self.watchers:
                watcher(record, gone)

    def insert(self, record: ContainerRecord) -> None:
        """Store a new container; a taken name in the tenant is a `Conflict`."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(schema.containers).values(**asdict(record)))
        except IntegrityError as exc:
            raise Conflict(
                f"a container named {record.name!r} already exists",
                details={"received": record.name},
            ) from exc
        self._written(record.container_id)
        self._changed(record)

    def get(self, tenant_id: TenantId, container_id: str) -> ContainerRecord | None:
        """One container of the tenant, or None."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(_ONE_CONTAINER, {"t": tenant_id, "i": container_id}).mappings().first()
            )
        return _container(row) if row else None

    def cached(self, tenant_id: TenantId, container_id: str) -> ContainerRecord | None:
        """`get`, answered from memory after the first read (the exec hot path).

        The record is shared with later callers: read it, never change it.
        """
        record = self._rows.get(container_id)
        if record is None:
            version = self._version
            record = self.get(tenant_id, container_id)
            if record is None:
                return None
            with self._lock:
                if self._version == version:
                    self._rows[container_id] = record
        return record if record.tenant_id == tenant_id else None

    def find(self, container_id: str) -> ContainerRecord | None:
        """One container of any tenant (for the server's own bookkeeping, never for a caller)."""
        c = schema.containers.c
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(schema.containers).where(c.container_id == container_id))
                .mappings()
                .first()
            )
        return _container(row) if row else None

    def by_name(self, tenant_id: TenantId, name: str) -> ContainerRecord | None:
        """One container of the tenant by name, or None."""
        c = schema.containers.c
        query = select(schema.containers).where(c.tenant_id == tenant_id, c.name == name)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _container(row) if row else None

    def cloned_from(self, snapshot_id: str) -> list[ContainerId]:
        """Containers whose filesystem started as this snapshot."""
        c = schema.containers.c
        query = select(c.container_id).where(c.source_snapshot_id == snapshot_id)
        with self.engine.connect() as conn:
            return [ContainerId(i) for i in conn.execute(query).scalars()]

    def list(
        self, tenant_id: TenantId | None, state: ContainerState | None = None
    ) -> list[ContainerRecord]:
        """The tenant's containers (every tenant's when None), oldest first."""
        c = schema.containers.c
        query = select(schema.containers).order_by(c.created_at)
        if tenant_id is not None:
            query = query.where(c.tenant_id == tenant_id)
        if state is not None:
            query = query.where(c.state == state.value)
        with self.engine.connect() as conn:
            return [_container(r) for r in conn.execute(query).mappings()]

    def update(self, container_id: ContainerId, **values: Any) -> None:
        """Write some fields of one container."""
        for key in values:
            if key not in schema.containers.c:
                raise KeyError(key)
        if "state" in values:
            values["state"] = ContainerState(values["state"]).value
        c = schema.containers.c
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(schema.containers).where(c.container_id == container_id).values(**values)
                )
        except IntegrityError as exc:
            raise Conflict(
                f"a container named {values.get('name')!r} already exists",
                details={"received": str(values.get("name"))},
            ) from exc
        self._written(container_id)
        if self.watchers:
            self._changed(self.find(container_id))

    def delete(self, container_id: ContainerId) -> None:
        """Remove a container row."""
        gone = self.find(container_id) if self.watchers else None
        c = schema.containers.c
        with self.engine.begin() as conn:
            conn.execute(delete(schema.containers).where(c.container_id == container_id))
        self._written(container_id)
        self._changed(gone, gone=True)


class Addresses(_Repository):
    """IPAM allocations: which address belongs to which container (or pool member)."""

    def taken(self) -> set[str]:
        """Every allocated address."""
        with self.engine.connect() as conn:
            return set(conn.execute(select(schema.addresses.c.address)).scalars())

    def owners(self) -> dict[str, str]:
        """Allocated address of each owner."""
        a = schema.addresses.c
        with self.engine.connect() as conn:
            return {
                row.owner_id: row.address for row in conn.execute(select(a.owner_id, a.address))
            }

    def of(self, owner_id: str) -> str | None:
        """The address allocated to `owner_id`, if any."""
        a = schema.addresses.c
        with self.engine.connect() as conn:
            return conn.execute(
                select(a.address).where(a.owner_id == owner_id)
            ).scalar_one_or_none()

    def claim(self, address: str, owner_id: str) -> bool:
        """Record `address` for `owner_id`; False if someone holds it already."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(schema.addresses).values(
                        address=address, owner_id=owner_id, allocated_at=now()
                    )
                )
        except IntegrityError:
            return False
        return True

    def transfer(self, old_owner: str, new_owner: str) -> None:
        """Hand an allocation to a new owner (a pool member becoming a container)."""
        a = schema.addresses.c
        with self.engine.begin() as conn:
            conn.execute(
                update(schema.addresses).where(a.owner_id == old_owner).values(owner_id=new_owner)
            )

    def move(self, owner_id: str, address: str) -> bool:
        """Give the owner `address` instead of its current one; False if someone holds it."""
        a = schema.addresses.c
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(schema.addresses).where(a.owner_id == owner_id))
                conn.execute(
                    insert(schema.addresses).values(
                        address=address, owner_id=owner_id, allocated_at=now()
                    )
                )
        except IntegrityError:
            return False
        return True

    def release(self, owner_id: str) -> None:
        """Free the owner's address, if any."""
        a = schema.addresses.c
        with self.engine.begin() as conn:
            conn.execute(delete(schema.addresses).where(a.owner_id == owner_id))

    def release_all_except(self, owners: Iterable[str]) -> list[str]:
        """Free every allocation whose owner is not listed; return the freed owners."""
        keep = set(owners)
        freed = [o for o in self.owners() if o not in keep]
        a = schema.addresses.c
        if freed:
            with self.engine.begin() as conn:
                conn.execute(delete(schema.addresses).where(a.owner_id.in_(freed)))
        return freed


def _snapshot(row: RowMapping) -> SnapshotRecord:
    return SnapshotRecord(**_with_utc(row, "created_at"))


class Snapshots(_Repository):
    """Snapshot rows, looked up within a tenant."""

    def insert(self, record: SnapshotRecord) -> None:
        """Store a new snapshot."""
        with self.engine.begin() as conn:
            conn.execute(insert(schema.snapshots).values(**asdict(record)))

    def get(self, tenant_id: TenantId, snapshot_id: str) -> SnapshotRecord | None:
        """One snapshot of the tenant, or None."""
        s = schema.snapshots.c
        query = select(schema.snapshots).where(
            s.tenant_id == tenant_id, s.snapshot_id == snapshot_id
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _snapshot(row) if row else None

    def children(self, snapshot_id: str) -> list[SnapshotId]:
        """Snapshots whose parent is this one."""
        s = schema.snapshots.c
        query = select(s.snapshot_id).where(s.parent_snapshot_id == snapshot_id)
        with self.engine.connect() as conn:
            return [SnapshotId(i) for i in conn.execute(query).scalars()]

    def list(
        self, tenant_id: TenantId | None, *, container_id: str | None = None
    ) -> list[SnapshotRecord]:
        """The tenant's snapshots (every tenant's when None), oldest first."""
        s = schema.snapshots.c
        query = select(schema.snapshots).order_by(s.created_at)
        if tenant_id is not None:
            query = query.where(s.tenant_id == tenant_id)
        if container_id is not None:
            query = query.where(s.source_container_id == container_id)
        with self.engine.connect() as conn:
            return [_snapshot(r) for r in conn.execute(query).mappings()]

    def update(self, snapshot_id: str, **values: Any) -> None:
        """Write some fields of one snapshot."""
        s = schema.snapshots.c
        with self.engine.begin() as conn:
            conn.execute(
                update(schema.snapshots).where(s.snapshot_id == snapshot_id).values(**values)
            )

    def delete(self, snapshot_id: str) -> None:
        """Remove a snapshot row."""
        s = schema.snapshots.c
        with self.engine.begin() as conn:
            conn.execute(delete(schema.snapshots).where(s.snapshot_id == snapshot_id))


def _volume(row: RowMapping) -> VolumeRecord:
    return VolumeRecord(**_with_utc(row, "created_at", "updated_at"))


class Volumes(_Repository):
    """Volume rows, looked up by name within a tenant."""

    def insert(self, record: VolumeRecord) -> None:
        """Store a new volume; a taken name in the tenant is a `Conflict`."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(schema.volumes).values(**asdict(record)))
        except IntegrityError as exc:
            raise Conflict(
                f"a volume named {record.name!r} already exists",
                details={"received": record.name},
            ) from exc

    def by_name(self, tenant_id: TenantId, name: str) -> VolumeRecord | None:
        """One volume of the tenant by name, or None."""
        v = schema.volumes.c
        query = select(schema.volumes).where(v.tenant_id == tenant_id, v.name == name)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _volume(row) if row else None

    def by_id(self, volume_id: str) -> VolumeRecord | None:
        """One volume of any tenant by id (attachments store ids), or None."""
        v = schema.volumes.c
        query = select(schema.volumes).where(v.volume_id == volume_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _volume(row) if row else None

    def rename(self, volume_id: str, new_name: str) -> None:
        """Give a volume a new name (unique in its tenant, else a `Conflict`)."""
        v = schema.volumes.c
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(schema.volumes)
                    .where(v.volume_id == volume_id)
                    .values(name=new_name, updated_at=now())
                )
        except IntegrityError as exc:
            raise Conflict(
                f"a volume named {new_name!r} already exists", details={"received": new_name}
            ) from exc

    def delete(self, volume_id: str) -> None:
        """Remove a volume row."""
        v = schema.volumes.c
        with self.engine.begin() as conn:
            conn.execute(delete(schema.volumes).where(v.volume_id == volume_id))

    def list(self, tenant_id: TenantId | None) -> list[VolumeRecord]:
        """The tenant's volumes (every tenant's when None), by name."""
        v = schema.volumes.c
        query = select(schema.volumes).order_by(v.name)
        if tenant_id is not None:
            query = query.where(v.tenant_id == tenant_id)
        with self.engine.connect() as conn:
            return [_volume(r) for r in conn.execute(query).mappings()]


def _service(row: RowMapping) -> ServiceRecord:
    return ServiceRecord(**_with_utc(row, "created_at", "updated_at", "expires_at"))


class Services(_Repository):
    """Published services, looked up within a tenant (or by id for the ingress)."""

    def insert(self, record: ServiceRecord) -> None:
        """Store a new service."""
        with self.engine.begin() as conn:
            conn.execute(insert(schema.services).values(**asdict(record)))

    def get(self, service_id: str) -> ServiceRecord | None:
        """One service of any tenant by id (the ingress checks the token, not a tenant)."""
        v = schema.services.c
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(schema.services).where(v.service_id == service_id))
                .mappings()
                .first()
            )
        return _service(row) if row else None

    def update(self, service_id: str, **values: Any) -> None:
        """Change some fields; `updated_at` moves with them."""
        v = schema.services.c
        with self.engine.begin() as conn:
            conn.execute(
                update(schema.services)
                .where(v.service_id == service_id)
                .values(**values, updated_at=now())
            )

    def delete(self, service_id: str) -> None:
        """Remove a service row."""
        v = schema.services.c
        with self.engine.begin() as conn:
            conn.execute(delete(schema.services).where(v.service_id == service_id))

    def delete_of(self, container_id: str) -> list[str]:
        """Remove every service of a container; return their ids."""
        v = schema.services.c
        with self.engine.begin() as conn:
            ids = list(
                conn.execute(select(v.service_id).where(v.container_id == container_id)).scalars()
            )
            conn.execute(delete(schema.services).where(v.container_id == container_id))
        return ids

    def list(
        self, tenant_id: TenantId | None, container_id: str | None = None
    ) -> list[ServiceRecord]:
        """Services of a tenant (every tenant's when None), of one container if given."""
        v = schema.services.c
        query = select(schema.services).order_by(v.created_at, v.service_id)
        if tenant_id is not None:
            query = query.where(v.tenant_id == tenant_id)
        if container_id is not None:
            query = query.where(v.container_id == container_id)
        with self.engine.connect() as conn:
            return [_service(r) for r in conn.execute(query).mappings()]


def _operation(row: RowMapping) -> OperationRecord:
    data = dict(row)
    data["status"] = OperationStatus(data["status"])
    data["phases"] = [
        PhaseRecord(p["name"], datetime.fromisoformat(p["started_at"]), p["duration_ms"])
        for p in data["phases"]
    ]
    for key in ("created_at", "started_at", "updated_at", "completed_at"):
        data[key] = _utc(data[key])
    return OperationRecord(**data)


def _operation_values(record: OperationRecord) -> dict[str, Any]:
    values = {f.name: getattr(record, f.name) for f in fields(record)}
    values["status"] = record.status.value
    values["phases"] = [
        {"name": p.name, "started_at": p.started_at.isoformat(), "duration_ms": p.duration_ms}
        for p in record.phases
    ]
    return values


class Operations(_Repository):
    """Operation rows: written on every status change; `watchers` see each write."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.watchers: list[Callable[[OperationRecord], None]] = []

    def insert(self, record: OperationRecord) -> None:
        """Store a new operation."""
        with self.engine.begin() as conn:
            conn.execute(insert(schema.operations).values(**_operation_values(record)))
        for watcher in self.watchers:
            watcher(record)

    def save(self, record: OperationRecord) -> None:
        """Write the whole record back (the engine holds the only live copy)."""
        values = _operation_values(record)
        op_id = values.pop("operation_id")
        o = schema.operations.c
        with self.engine.begin() as conn:
            conn.execute(update(schema.operations).where(o.operation_id == op_id).values(**values))
        for watcher in self.watchers:
            watcher(record)

    def get(self, tenant_id: TenantId, operation_id: str) -> OperationRecord | None:
        """One operation of the tenant, or None."""
        o = schema.operations.c
        query = select(schema.operations).where(
            o.tenant_id == tenant_id, o.operation_id == operation_id
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _operation(row) if row else None

    def unfinished(self) -> list[OperationRecord]:
        """Operations not yet in a terminal status (left behind by a crash)."""
        o = schema.operations.c
        live = [
            OperationStatus.ACCEPTED.value,
            OperationStatus.QUEUED.value,
            OperationStatus.RUNNING.value,
        ]
        query = select(schema.operations).where(o.status.in_(live))
        with self.engine.connect() as conn:
            return [_operation(r) for r in conn.execute(query).mappings()]

    def list(self, tenant_id: TenantId, limit: int = 100) -> list[OperationRecord]:
        """The tenant's newest operations."""
        o = schema.operations.c
        query = (
            select(schema.operations)
            .where(o.tenant_id == tenant_id)
            .order_by(o.created_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_operation(r) for r in conn.execute(query).mappings()]


def _api_key(row: RowMapping) -> ApiKeyRecord:
    return ApiKeyRecord(**_with_utc(row, "created_at", "last_used_at", "revoked_at"))


class ApiKeys(_Repository):
    """API keys, looked up by the hash of the presented secret."""

    def insert(self, record: ApiKeyRecord) -> None:
        """Store a new key."""
        with self.engine.begin() as conn:
            conn.execute(insert(schema.api_keys).values(**asdict(record)))

    def by_secret(self, secret: str) -> ApiKeyRecord | None:
        """The live key whose secret this is, or None."""
        k = schema.api_keys.c
        query = select(schema.api_keys).where(
            k.secret_hash == hash_secret(secret), k.revoked_at.is_(None)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _api_key(row) if row else None

    def list(self, tenant_id: TenantId) -> list[ApiKeyRecord]:
        """The tenant's live keys."""
        k = schema.api_keys.c
        query = (
            select(schema.api_keys)
            .where(k.tenant_id == tenant_id, k.revoked_at.is_(None))
            .order_by(k.created_at)
        )
        with self.engine.connect() as conn:
            return [_api_key(r) for r in conn.execute(query).mappings()]

    def count(self) -> int:
        """How many live keys exist across all tenants."""
        k = schema.api_keys.c
        with self.engine.connect() as conn:
            query = select(func.count()).select_from(schema.api_keys).where(k.revoked_at.is_(None))
            return int(conn.execute(query).scalar_one())

    def touch(self, key_id: str) -> None:
        """Record that a key was just used."""
        k = schema.api_keys.c
        with self.engine.begin() as conn:
            conn.execute(
                update(schema.api_keys).where(k.key_id == key_id).values(last_used_at=now())
            )

    def revoke(self, tenant_id: TenantId, key_id: str) -> bool:
        """Revoke one of the tenant's keys; False if there is no such live key."""
        k = schema.api_keys.c
        with self.engine.begin() as conn:
            done = conn.execute(
                update(schema.api_keys)
                .where(k.tenant_id == tenant_id, k.key_id == key_id, k.revoked_at.is_(None))
                .values(revoked_at=now())
            )
        return done.rowcount == 1


def _append(
    engine: Engine, table: Any, record: ActivityRecord | NotificationRecord, keep: int
) -> None:
    """Insert a row into a `seq`-ordered feed; every 100th row, drop the tenant's beyond `keep`."""
    with engine.begin() as conn:
        seq = conn.execute(insert(table).values(**asdict(record))).lastrowid
        if seq is None or seq % 100:
            return
        c = table.c
        cutoff = conn.execute(
            select(c.seq)
            .where(c.tenant_id == record.tenant_id)
            .order_by(c.seq.desc())
            .offset(keep)
            .limit(1)
        ).scalar()
        if cutoff is not None:
            conn.execute(delete(table).where(c.tenant_id == record.tenant_id, c.seq <= cutoff))


def _feed_row(row: RowMapping, *times: str) -> dict[str, Any]:
    """A feed row as record fields: times in UTC, the internal `seq` left out."""
    values = _with_utc(row, *times)
    values.pop("seq")
    return values


class Activity(_Repository):
    """What happened to each tenant's resources, newest first; the newest `keep` are kept."""

    keep = 10_000

    def insert(self, record: ActivityRecord) -> None:
        """Append one entry (and trim the tenant's oldest beyond `keep`, now and then)."""
        _append(self.engine, schema.activity, record, self.keep)

    def list(self, tenant_id: TenantId, limit: int) -> list[ActivityRecord]:
        """A tenant's newest entries."""
        c = schema.activity.c
        query = (
            select(schema.activity)
            .where(c.tenant_id == tenant_id)
            .order_by(c.seq.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [ActivityRecord(**_feed_row(r, "created_at")) for r in rows]


def _notification(row: RowMapping) -> NotificationRecord:
    return NotificationRecord(**_feed_row(row, "created_at", "read_at"))


class Notifications(_Repository):
    """What each tenant should be told, read or not; the newest `keep` are kept."""

    keep = 1_000

    def insert(self, record: NotificationRecord) -> None:
        """Store one notification (and trim the tenant's oldest beyond `keep`, now and then)."""
        _append(self.engine, schema.notifications, record, self.keep)

    def list(
        self, tenant_id: TenantId, *, unread_only: bool = False, limit: int | None = None
    ) -> list[NotificationRecord]:
        """A tenant's notifications, newest first."""
        c = schema.notifications.c
        query = (
            select(schema.notifications)
            .where(c.tenant_id == tenant_id)
            .order_by(c.seq.desc())
            .limit(limit)
        )
        if unread_only:
            query = query.where(c.read.is_(False))
        with self.engine.connect() as conn:
            return [_notification(r) for r in conn.execute(query).mappings()]

    def unread(self, tenant_id: TenantId) -> int:
        """How many of a tenant's notifications are unread."""
        c = schema.notifications.c
        query = select(func.count()).where(c.tenant_id == tenant_id, c.read.is_(False))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def mark_read(self, tenant_id: TenantId, notification_id: str | None) -> int:
        """Mark one (or, with None, every) unread notification of a tenant read; say how many."""
        c = schema.notifications.c
        query = (
            update(schema.notifications)
            .where(c.tenant_id == tenant_id, c.read.is_(False))
            .values(read=True, read_at=now())
        )
        if notification_id is not None:
            query = query.where(c.notification_id == notification_id)
        with self.engine.begin() as conn:
            return conn.execute(query).rowcount

    def get(self, tenant_id: TenantId, notification_id: str) -> NotificationRecord | None:
        """One notification of a tenant."""
        c = schema.notifications.c
        query = select(schema.notifications).where(
            c.tenant_id == tenant_id, c.notification_id == notification_id
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _notification(row) if row else None


def _cleanup_task(row: RowMapping) -> CleanupTaskRecord:
    return CleanupTaskRecord(**_with_utc(row, "created_at", "updated_at"))


class CleanupTasks(_Repository):
    """The host resources each deleted container released, or still has to."""

    def insert_many(self, records: Iterable[CleanupTaskRecord]) -> None:
        """Store new tasks in one transaction."""
        rows = [asdict(r) for r in records]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(schema.cleanup_tasks), rows)

    def update(self, task_id: str, **values: Any) -> None:
        """Change some fields; `updated_at` moves with them."""
        c = schema.cleanup_tasks.c
        with self.engine.begin() as conn:
            conn.execute(
                update(schema.cleanup_tasks)
                .where(c.task_id == task_id)
                .values(**values, updated_at=now())
            )

    def list(
        self,
        tenant_id: TenantId | None,
        *,
        container_id: str | None = None,
        statuses: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> list[CleanupTaskRecord]:
        """Tasks, newest first: of a tenant (every tenant's when None), a container, states."""
        c = schema.cleanup_tasks.c
        query = select(schema.cleanup_tasks).order_by(c.created_at.desc(), c.task_id).limit(limit)
        if tenant_id is not None:
            query = query.where(c.tenant_id == tenant_id)
        if container_id is not None:
            query = query.where(c.container_id == container_id)
        if statuses is not None:
            query = query.where(c.status.in_(list(statuses)))
        with self.engine.connect() as conn:
            return [_cleanup_task(r) for r in conn.execute(query).mappings()]

    def counts(self, tenant_id: TenantId) -> dict[str, int]:
        """How many of a tenant's tasks are in each status."""
        c = schema.cleanup_tasks.c
        query = select(c.status, func.count()).where(c.tenant_id == tenant_id).group_by(c.status)
        with self.engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(query).all()}

    def freed(self, tenant_id: TenantId) -> int:
        """Bytes a tenant's completed tasks released in all."""
        c = schema.cleanup_tasks.c
        query = select(func.coalesce(func.sum(c.bytes_freed), 0)).where(c.tenant_id == tenant_id)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())


class Meta(_Repository):
    """Small server-wide facts (secrets, markers)."""

    def get(self, key: str) -> str | None:
        """One value, or None."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(schema.meta.c.value).where(schema.meta.c.key == key)
            ).scalar_one_or_none()

    def put(self, key: str, value: str) -> None:
        """Set one value."""
        with self.engine.begin() as conn:
            _upsert(conn, key, value)


def _upsert(conn: Connection, key: str, value: str) -> None:
    m = schema.meta.c
    if conn.execute(update(schema.meta).where(m.key == key).values(value=value)).rowcount == 0:
        conn.execute(insert(schema.meta).values(key=key, value=value))


__all__ = ["OperationId", "Store", "hash_secret"]
