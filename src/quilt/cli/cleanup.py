"""`quilt cleanup`: what deletes released on the host, what is still pending, forcing it."""

from __future__ import annotations

import click

from quilt.cli.common import Session, detail, json_option, option, out, pass_session, table

COLUMNS = ("task_id", "container_id", "resource_type", "status", "attempts", "bytes_freed")


@click.group()
def cleanup() -> None:
    """Follow and force the release of deleted containers' host resources."""


@cleanup.command()
@json_option
@pass_session
def status(session: Session, *, as_json: bool) -> None:
    """Count cleanup tasks per status, and show the background retrier."""
    found = session.client.cleanup.status()
    session.show(as_json, lambda: detail(found))


@cleanup.command()
@option("--container", "container_id", help="Only this container's tasks (also once deleted).")
@option(
    "--status",
    "state",
    type=click.Choice(["pending", "in_progress", "completed", "failed"]),
    help="Only tasks in this status.",
)
@option("--limit", type=click.IntRange(1, 1000), help="How many [100].")
@json_option
@pass_session
def tasks(
    session: Session,
    container_id: str | None,
    state: str | None,
    limit: int | None,
    *,
    as_json: bool,
) -> None:
    """List cleanup tasks: one per resource a delete released."""
    found = session.client.cleanup.tasks(container_id=container_id, status=state, limit=limit)
    session.show(as_json, lambda: table(found, COLUMNS, "no cleanup tasks"))


@cleanup.command()
@click.argument("container")
@option("--remove-volumes", is_flag=True, help="Also delete volumes only it attached.")
@option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_session
def force(
    session: Session, container: str, *, remove_volumes: bool, yes: bool, as_json: bool
) -> None:
    """Release everything of stopped CONTAINER now and forget it."""
    if not yes:
        click.confirm(f"Release everything of {container} and forget it?", abort=True)
    done = session.client.cleanup.force(container, remove_volumes=remove_volumes)

    def render() -> None:
        table(done.tasks, COLUMNS, "nothing was left to release")
        if done.volumes_removed:
            out.print(f"volumes removed: {', '.join(done.volumes_removed)}")

    session.show(as_json, render)
