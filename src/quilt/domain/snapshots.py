"""Snapshot, clone and fork rules: modes, expiry, what blocks a delete, lineage, label filters.

Pure: no I/O. The engine asks these questions; the node does the capturing.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from quilt.errors import BadRequest, SnapshotInUse, SnapshotPinned

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from quilt.domain.records import SnapshotRecord

MAX_FORKS: Final = 100


class ConsistencyMode(StrEnum):
    """How careful the capture is about data still in flight."""

    CRASH = "crash-consistent"  # freeze and capture: what a power cut would leave
    APP = "app-consistent"  # also flush the container's filesystem before the freeze


class NetworkMode(StrEnum):
    """What happens to the network identity of what is captured."""

    RESET = "reset"
    PRESERVE_NS = "preserve_ns"
    PRESERVE_CONN = "preserve_conn_best_effort"


class VolumeMode(StrEnum):
    """Whether attached volumes' data goes into the snapshot."""

    EXCLUDE = "exclude"
    INCLUDE_NAMED = "include_named"
    INCLUDE_ALL = "include_all_allowed"


class ResumePolicy(StrEnum):
    """Whether a clone or fork runs at once or waits for an explicit start."""

    IMMEDIATE = "immediate"
    MANUAL = "manual"


def expires_at(created_at: datetime, ttl_seconds: int | None) -> datetime | None:
    """When a snapshot with this TTL expires (None: never)."""
    return created_at + timedelta(seconds=ttl_seconds) if ttl_seconds else None


def is_expired(snapshot: SnapshotRecord, moment: datetime) -> bool:
    """Expired snapshots are reclaimed, unless pinned."""
    deadline = expires_at(snapshot.created_at, snapshot.ttl_seconds)
    return not snapshot.pinned and deadline is not None and moment >= deadline


def check_deletable(
    snapshot: SnapshotRecord, *, containers: Sequence[str], children: Sequence[str]
) -> None:
    """Refuse to delete a pinned snapshot, or one that others still stand on."""
    if snapshot.pinned:
        raise SnapshotPinned(
            f"snapshot {snapshot.snapshot_id} is pinned",
            details={"snapshot_id": snapshot.snapshot_id, "pinned": True},
            hint=f"POST /api/snapshots/{snapshot.snapshot_id}/unpin first",
        )
    if containers or children:
        raise SnapshotInUse(
            f"snapshot {snapshot.snapshot_id} is in use",
            details={"containers": list(containers), "snapshots": list(children)},
            hint="delete the containers cloned from it and the snapshots taken on top of it first",
        )


def network_warnings(mode: NetworkMode) -> list[str]:
    """What this host cannot honour of a network mode (every copy gets a new identity here)."""
    if mode is NetworkMode.RESET:
        return []
    return [
        (
            f"network_mode {mode.value!r} is not supported on this host: the copy gets its own "
            "address and namespace, and open connections are not carried (no checkpoint/restore)"
        )
    ]


def lineage(
    snapshot: SnapshotRecord, parents: Mapping[str, SnapshotRecord]
) -> list[tuple[SnapshotRecord, int]]:
    """The snapshot and its ancestors, nearest first, each with its depth (0 = itself).

    `parents` maps snapshot ids to records; a missing parent ends the walk, and a cycle (which
    the engine never creates) cannot loop forever.
    """
    chain = [(snapshot, 0)]
    seen = {snapshot.snapshot_id}
    current = snapshot
    while current.parent_snapshot_id and current.parent_snapshot_id not in seen:
        parent = parents.get(current.parent_snapshot_id)
        if parent is None:
            break
        chain.append((parent, len(chain)))
        seen.add(parent.snapshot_id)
        current = parent
    return chain


def parse_label_filters(filters: Sequence[str]) -> dict[str, str]:
    """`label=key=value` query values into a mapping; a value without `=` is a 400."""
    wanted: dict[str, str] = {}
    for item in filters:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadRequest(
                f"label filter {item!r} is not key=value",
                details={"expected": "key=value", "received": item},
            )
        wanted[key] = value
    return wanted


def matches_labels(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Whether every wanted label is present with the wanted value."""
    return all(labels.get(k) == v for k, v in wanted.items())


def fork_names(base: str, count: int) -> list[str]:
    """Names of `count` forks: the name itself for one, `<name>-1` … `<name>-N` for several."""
    return [base] if count == 1 else [f"{base}-{i}" for i in range(1, count + 1)]
