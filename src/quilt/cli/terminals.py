"""`quilt terminals`: the tenant's terminal sessions (open one with `quilt shell`)."""

from __future__ import annotations

from typing import Any

import click

from quilt.cli.common import Session, detail, json_option, option, out, pass_session, table

COLUMNS = ("session_id", "container_id", "state", "shell", "cols", "rows", "attached_clients")


@click.group()
def terminals() -> None:
    """Open, list, inspect, resize and end terminal sessions."""


@terminals.command()
@click.argument("container")
@option("--shell", help="The shell to run [bash, or sh on busybox].")
@option("--cols", type=int, help="Columns [80].")
@option("--rows", type=int, help="Rows [24].")
@json_option
@pass_session
def create(
    session: Session,
    container: str,
    shell: str | None,
    cols: int | None,
    rows: int | None,
    *,
    as_json: bool,
) -> None:
    """Open a terminal session in CONTAINER; attach later (`quilt shell` opens and attaches)."""
    given = {"shell": shell, "cols": cols, "rows": rows}
    options: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    made = session.client.terminals.create(container, **options)
    session.show(as_json, lambda: out.print(made.session_id))


@terminals.command("ls")
@json_option
@pass_session
def list_(session: Session, *, as_json: bool) -> None:
    """List the tenant's terminal sessions."""
    found = session.client.terminals.list()
    session.show(as_json, lambda: table(found, COLUMNS, "no terminal sessions"))


@terminals.command()
@click.argument("session_id")
@json_option
@pass_session
def get(session: Session, session_id: str, *, as_json: bool) -> None:
    """Show SESSION_ID."""
    found = session.client.terminals.get(session_id)
    session.show(as_json, lambda: detail(found))


@terminals.command()
@click.argument("session_id")
@click.argument("cols", type=int)
@click.argument("rows", type=int)
@json_option
@pass_session
def resize(session: Session, session_id: str, cols: int, rows: int, *, as_json: bool) -> None:
    """Give SESSION_ID's terminal COLS columns and ROWS rows."""
    session.client.terminals.resize(session_id, cols, rows)
    session.show(as_json, lambda: out.print(f"{session_id} {cols}x{rows}"))


@terminals.command("rm")
@click.argument("session_id")
@json_option
@pass_session
def remove(session: Session, session_id: str, *, as_json: bool) -> None:
    """End SESSION_ID (its shell is hung up)."""
    session.client.terminals.delete(session_id)
    session.show(as_json, lambda: out.print(f"ended {session_id}"))
