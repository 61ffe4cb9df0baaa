"""The event ring: ordering, filters, resume positions and gaps, without a server."""

from __future__ import annotations

import asyncio

import pytest

from quilt.engine.events import Events, Filters

pytestmark = pytest.mark.anyio


def test_after_returns_what_came_later_and_reports_a_gap() -> None:
    """A reader behind the ring's start is told it missed events, then gets the oldest kept."""
    events = Events(ring_size=3)
    for i in range(5):
        events.publish("ten_a", "container_update", {"i": i}, container_id="c")
    later, missed = events.after(1)
    assert missed
    assert [e.data["i"] for e in later] == [2, 3, 4]
    later, missed = events.after(3)
    assert not missed
    assert [e.data["i"] for e in later] == [3, 4]
    assert events.after(5) == ([], False)


def test_position_resumes_only_ids_of_this_boot() -> None:
    """Last-Event-ID of this boot resumes there; a foreign or broken one starts from now."""
    events = Events()
    events.publish("ten_a", "x", {})
    events.publish("ten_a", "x", {})
    assert events.position(f"{events.boot}.1") == 1
    assert events.position("123.1") == 2
    assert events.position("garbage") == 2
    assert events.position(None) == 2


def test_filters_match_container_and_operation() -> None:
    """Filters keep only the named container's or operation's events."""
    events = Events()
    a = events.publish("t", "container_update", {}, container_id="c1")
    b = events.publish("t", "operation_update", {}, container_id="c2", operation_id="op1")
    assert Filters(container_id="c1").match(a)
    assert not Filters(container_id="c1").match(b)
    assert Filters(operation_id="op1").match(b)
    assert Filters().match(a)


async def test_follow_yields_only_the_tenants_events_and_heartbeats() -> None:
    """A follower sees its tenant's new events as they come, and heartbeats when quiet."""
    events = Events()
    events.bind(asyncio.get_running_loop())
    seen: list[tuple[str, str | None]] = []

    async def follow() -> None:
        async for kind, event in events.follow("ten_a", Filters(), events.position(None), 0.05):
            seen.append((kind, event.data["n"] if event else None))
            if len(seen) == 3:
                return

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.01)
    events.publish("ten_b", "x", {"n": "theirs"})
    events.publish("ten_a", "x", {"n": "one"})
    events.publish("ten_a", "x", {"n": "two"})
    await asyncio.wait_for(task, 2)
    assert seen == [("event", "one"), ("event", "two"), ("heartbeat", None)]
