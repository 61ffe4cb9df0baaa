"""`quilt snapshots`: capture a container's files, and clone new containers from them."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import click

from quilt.cli.common import (
    Session,
    detail,
    finish,
    json_option,
    option,
    out,
    pairs,
    pass_session,
    table,
    wait_options,
)

if TYPE_CHECKING:
    from quilt.sdk import Operation

COLUMNS = ("snapshot_id", "source_container_name", "pinned", "size_bytes", "labels", "created_at")
CONSISTENCY = click.Choice(["crash-consistent", "app-consistent"])
VOLUME_MODES = click.Choice(["exclude", "include_named", "include_all_allowed"])


@click.group()
def snapshots() -> None:
    """Snapshot containers; list, pin, clone and delete snapshots."""


@snapshots.command()
@click.argument("container")
@option("-l", "--label", "labels", multiple=True, metavar="KEY=VALUE", help="Label.")
@option("--ttl", "ttl_seconds", type=int, help="Delete the snapshot after this many seconds.")
@option("--consistency", type=CONSISTENCY, help="crash-consistent [default] or app-consistent.")
@option("--volumes", "volume_mode", type=VOLUME_MODES, help="Copy attached volumes' data in.")
@wait_options
@json_option
@pass_session
def create(
    session: Session,
    container: str,
    labels: tuple[str, ...],
    ttl_seconds: int | None,
    consistency: str | None,
    volume_mode: str | None,
    *,
    wait: bool,
    wait_timeout: float,
    as_json: bool,
) -> None:
    """Snapshot CONTAINER's filesystem (it pauses for milliseconds); an operation."""
    options: dict[str, Any] = {}
    if labels:
        options["labels"] = pairs(labels, "--label")
    if ttl_seconds is not None:
        options["ttl_seconds"] = ttl_seconds
    if consistency:
        options["consistency_mode"] = consistency
    if volume_mode:
        options["volume_mode"] = volume_mode
    receipt = session.client.snapshots.create(container, **options)
    finish(session, receipt, wait=wait, timeout=wait_timeout, as_json=as_json, done=_snapshot)


def _snapshot(operation: Operation) -> None:
    result = operation.result or {}
    pause = result.get("pause_ms")
    out.print(
        f"{result.get('snapshot_id')}" + (f" (paused {pause} ms)" if pause is not None else "")
    )


@snapshots.command("ls")
@option("--container", help="Only snapshots of this container.")
@option("-l", "--label", "labels", multiple=True, metavar="KEY=VALUE", help="With this label.")
@json_option
@pass_session
def list_(
    session: Session, container: str | None, labels: tuple[str, ...], *, as_json: bool
) -> None:
    """List the tenant's snapshots."""
    found = session.client.snapshots.list(container, pairs(labels, "--label") or None)
    session.show(as_json, lambda: table(found, COLUMNS, "no snapshots"))


@snapshots.command()
@click.argument("snapshot_id")
@json_option
@pass_session
def get(session: Session, snapshot_id: str, *, as_json: bool) -> None:
    """Show SNAPSHOT_ID."""
    found = session.client.snapshots.get(snapshot_id)
    session.show(as_json, lambda: detail(found))


@snapshots.command()
@click.argument("snapshot_id")
@json_option
@pass_session
def lineage(session: Session, snapshot_id: str, *, as_json: bool) -> None:
    """Show SNAPSHOT_ID's ancestors, the snapshots on top of it, and its clones."""
    found = session.client.snapshots.lineage(snapshot_id)

    def render() -> None:
        table(found.nodes, ("depth", "snapshot_id", "parent_snapshot_id", "created_at"), "")
        if found.clones:
            out.print("clones:")
            table(found.clones, ("name", "container_id", "state"), "")

    session.show(as_json, render)


@snapshots.command()
@click.argument("snapshot_id")
@json_option
@pass_session
def pin(session: Session, snapshot_id: str, *, as_json: bool) -> None:
    """Pin SNAPSHOT_ID: it cannot be deleted and does not expire."""
    found = session.client.snapshots.pin(snapshot_id)
    session.show(as_json, lambda: out.print(f"{found.snapshot_id} pinned"))


@snapshots.command()
@click.argument("snapshot_id")
@json_option
@pass_session
def unpin(session: Session, snapshot_id: str, *, as_json: bool) -> None:
    """Unpin SNAPSHOT_ID."""
    found = session.client.snapshots.unpin(snapshot_id)
    session.show(as_json, lambda: out.print(f"{found.snapshot_id} unpinned"))


@snapshots.command("rm")
@click.argument("snapshot_id")
@json_option
@pass_session
def remove(session: Session, snapshot_id: str, *, as_json: bool) -> None:
    """Delete SNAPSHOT_ID (refused while pinned or while clones stand on it)."""
    gone = session.client.snapshots.delete(snapshot_id)
    session.show(as_json, lambda: out.print(f"deleted {gone.snapshot_id}"))


@snapshots.command()
@click.argument("snapshot_id")
@option("--name", help="Name of the new container [generated].")
@option("-l", "--label", "labels", multiple=True, metavar="KEY=VALUE", help="Label.")
@option("--manual", is_flag=True, help="Leave the clone stopped (resume_policy manual).")
@wait_options
@json_option
@pass_session
def clone(
    session: Session,
    snapshot_id: str,
    name: str | None,
    labels: tuple[str, ...],
    *,
    manual: bool,
    wait: bool,
    wait_timeout: float,
    as_json: bool,
) -> None:
    """Make a new container from SNAPSHOT_ID's files and configuration; an operation."""
    options: dict[str, Any] = {"resume_policy": "manual" if manual else "immediate"}
    if name:
        options["name"] = name
    if labels:
        options["labels"] = pairs(labels, "--label")
    receipt = session.client.snapshots.clone(snapshot_id, **options)
    finish(session, receipt, wait=wait, timeout=wait_timeout, as_json=as_json, done=made)


def made(operation: Operation) -> None:
    """Print the containers an operation made (a clone's one, a fork's several)."""
    result = operation.result or {}
    ids = result.get("container_ids") or [result.get("container_id")]
    names = result.get("names") or [result.get("name")]  # a fork's, else a clone's one
    for name, container_id in itertools.zip_longest(names, ids):
        out.print(" ".join(str(part) for part in (name, container_id) if part))
