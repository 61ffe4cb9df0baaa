"""`quilt forks`: copies of a running container, files and configuration, from one capture."""

from __future__ import annotations

from typing import Any

import click

from quilt.cli.common import Session, finish, json_option, option, pairs, pass_session, wait_options
from quilt.cli.snapshots import made


@click.group()
def forks() -> None:
    """Fork running containers."""


@forks.command()
@click.argument("container")
@option("--name", help="Base name of the children (NAME, or NAME-1..N with --count).")
@option("--count", type=int, default=1, show_default=True, help="How many children (≤ 100).")
@option("-l", "--label", "labels", multiple=True, metavar="KEY=VALUE", help="Label.")
@option("--manual", is_flag=True, help="Leave the children stopped (resume_policy manual).")
@wait_options
@json_option
@pass_session
def create(
    session: Session,
    container: str,
    name: str | None,
    count: int,
    labels: tuple[str, ...],
    *,
    manual: bool,
    wait: bool,
    wait_timeout: float,
    as_json: bool,
) -> None:
    """Fork CONTAINER into new containers with the same files and configuration."""
    options: dict[str, Any] = {"count": count, "resume_policy": "manual" if manual else "immediate"}
    if name:
        options["name"] = name
    if labels:
        options["labels"] = pairs(labels, "--label")
    receipt = session.client.forks.create(container, **options)
    finish(session, receipt, wait=wait, timeout=wait_timeout, as_json=as_json, done=made)
