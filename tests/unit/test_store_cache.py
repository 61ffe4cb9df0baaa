"""The container rows the store keeps in memory for exec's hot path never go stale."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from quilt.domain.ids import ContainerId, TenantId
from quilt.domain.records import ContainerRecord
from quilt.domain.states import ContainerState
from quilt.store.store import Store

if TYPE_CHECKING:
    from pathlib import Path

CID = ContainerId("ctr_cache1")
TENANT = TenantId("ten_a")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A migrated SQLite store holding one running container of `ten_a`."""
    opened = Store(f"sqlite:///{tmp_path / 'quilt.db'}")
    opened.migrate()
    opened.containers.insert(
        ContainerRecord(
            container_id=CID,
            tenant_id=TENANT,
            name="web",
            image="busybox",
            command=None,
            environment={"A": "1"},
            working_directory="/",
            memory_limit_mb=512,
            cpu_limit_percent=100.0,
            strict=False,
            gpu_count=0,
            gpu_ids=[],
            labels={},
            volumes=[],
            state=ContainerState.RUNNING,
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
    )
    return opened


def test_cached_read_follows_every_write(store: Store) -> None:
    """After an update the cached row is the new one, and after a delete there is none."""
    first = store.containers.cached(TENANT, CID)
    assert first is not None
    assert store.containers.cached(TENANT, CID) is first  # answered from memory
    store.containers.update(CID, state=ContainerState.STOPPED, environment={"A": "2"})
    after = store.containers.cached(TENANT, CID)
    assert after is not None
    assert (after.state, after.environment) == (ContainerState.STOPPED, {"A": "2"})
    store.containers.delete(CID)
    assert store.containers.cached(TENANT, CID) is None


def test_cached_read_is_tenant_scoped(store: Store) -> None:
    """Another tenant never gets the row, whether or not it is in memory."""
    other = TenantId("ten_b")
    assert store.containers.cached(other, CID) is None
    assert store.containers.cached(TENANT, CID) is not None
    assert store.containers.cached(other, CID) is None


def test_a_read_racing_a_write_is_not_kept(store: Store, monkeypatch: Any) -> None:
    """A row read while a write lands is not kept, so the next read sees the write."""
    read = store.containers.get

    def read_then_write(tenant_id: TenantId, container_id: str) -> ContainerRecord | None:
        found = read(tenant_id, container_id)
        monkeypatch.setattr(store.containers, "get", read)
        store.containers.update(CID, state=ContainerState.STOPPED)
        return found

    monkeypatch.setattr(store.containers, "get", read_then_write)
    racing = store.containers.cached(TENANT, CID)
    assert racing is not None
    assert racing.state == ContainerState.RUNNING  # what a plain read at that moment saw
    fresh = store.containers.cached(TENANT, CID)
    assert fresh is not None
    assert fresh.state == ContainerState.STOPPED
