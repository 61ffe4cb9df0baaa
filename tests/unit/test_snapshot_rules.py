"""Snapshot rules: expiry, what blocks a delete, lineage walks, label filters, wire modes."""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from quilt.domain import snapshots as rules
from quilt.domain.ids import SnapshotId, TenantId
from quilt.domain.records import SnapshotRecord
from quilt.errors import BadRequest, SnapshotInUse, SnapshotPinned
from quilt.wire import snapshots as wire

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def snap(snapshot_id: str, parent: str | None = None, **extra: Any) -> SnapshotRecord:
    """A snapshot record with defaults."""
    return SnapshotRecord(
        snapshot_id=SnapshotId(snapshot_id),
        tenant_id=TenantId("ten_a"),
        source_container_id="ctr_1",
        source_container_name="one",
        parent_snapshot_id=parent,
        image="busybox",
        config={},
        labels={},
        created_at=T0,
        consistency_mode="crash-consistent",
        network_mode="reset",
        volume_mode="exclude",
        **extra,
    )


def test_expiry_needs_a_ttl_and_no_pin() -> None:
    """A snapshot expires at created + ttl, never without a TTL, never while pinned."""
    later = T0 + timedelta(seconds=61)
    assert rules.is_expired(snap("s", ttl_seconds=60), later)
    assert not rules.is_expired(snap("s", ttl_seconds=60), T0 + timedelta(seconds=59))
    assert not rules.is_expired(snap("s"), later)
    assert not rules.is_expired(snap("s", ttl_seconds=60, pinned=True), later)
    assert rules.expires_at(T0, 60) == T0 + timedelta(seconds=60)
    assert rules.expires_at(T0, None) is None


def test_pinned_or_used_snapshots_cannot_be_deleted() -> None:
    """Pinned comes first; then clones or child snapshots make it in use."""
    with pytest.raises(SnapshotPinned):
        rules.check_deletable(snap("s", pinned=True), containers=["ctr_x"], children=[])
    with pytest.raises(SnapshotInUse) as used:
        rules.check_deletable(snap("s"), containers=["ctr_x"], children=["snap_y"])
    assert used.value.details == {"containers": ["ctr_x"], "snapshots": ["snap_y"]}
    rules.check_deletable(snap("s"), containers=[], children=[])


def test_lineage_walks_up_and_stops_at_gaps_and_cycles() -> None:
    """Ancestors come nearest first with depths; a missing parent or a loop ends the walk."""
    a, b, c = snap("a"), snap("b", "a"), snap("c", "b")
    chain = rules.lineage(c, {"a": a, "b": b, "c": c})
    assert [(r.snapshot_id, d) for r, d in chain] == [("c", 0), ("b", 1), ("a", 2)]
    assert [r.snapshot_id for r, _ in rules.lineage(c, {"c": c})] == ["c"]
    x, y = snap("x", "y"), snap("y", "x")
    assert [r.snapshot_id for r, _ in rules.lineage(x, {"x": x, "y": y})] == ["x", "y"]


def test_label_filters_parse_and_match() -> None:
    """`k=v` filters all have to match; a filter without `=` is a 400."""
    wanted = rules.parse_label_filters(["env=ci", "empty="])
    assert wanted == {"env": "ci", "empty": ""}
    assert rules.matches_labels({"env": "ci", "empty": "", "x": "1"}, wanted)
    assert not rules.matches_labels({"env": "ci"}, wanted)
    with pytest.raises(BadRequest):
        rules.parse_label_filters(["env"])


def test_fork_names() -> None:
    """One fork keeps the name; several are numbered from 1."""
    assert rules.fork_names("t", 1) == ["t"]
    assert rules.fork_names("t", 3) == ["t-1", "t-2", "t-3"]


def test_only_reset_network_mode_is_honoured_here() -> None:
    """Preserving a namespace or connections is warned about, not pretended."""
    assert rules.network_warnings(rules.NetworkMode.RESET) == []
    assert "not supported" in rules.network_warnings(rules.NetworkMode.PRESERVE_NS)[0]


@pytest.mark.parametrize(
    ("literal", "enum"),
    [
        (wire.ConsistencyMode, rules.ConsistencyMode),
        (wire.NetworkMode, rules.NetworkMode),
        (wire.VolumeMode, rules.VolumeMode),
        (wire.ResumePolicy, rules.ResumePolicy),
    ],
)
def test_wire_modes_match_the_domain(literal: Any, enum: Any) -> None:
    """The request schema accepts exactly the modes the domain knows."""
    assert set(typing.get_args(literal)) == {m.value for m in enum}
