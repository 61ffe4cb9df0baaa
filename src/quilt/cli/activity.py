"""`quilt activity`: what happened to the tenant's resources, newest first."""

from __future__ import annotations

import click

from quilt.cli.common import Session, json_option, option, pass_session, table


@click.command()
@option("--limit", type=click.IntRange(1, 1000), help="How many entries [50].")
@json_option
@pass_session
def activity(session: Session, limit: int | None, *, as_json: bool) -> None:
    """List recent activity: containers, operations, services and cleanups."""
    found = session.client.activity.list(limit)
    columns = ("created_at", "type", "resource_name", "resource_id", "message")
    session.show(as_json, lambda: table(found, columns, "no activity yet"))
