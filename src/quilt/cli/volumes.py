"""`quilt volumes`: named data that outlives containers, and the files in it."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from quilt.cli.common import (
    Session,
    archive,
    detail,
    finish,
    json_option,
    option,
    out,
    pairs,
    pass_session,
    table,
    upload_options,
    wait_options,
)

if TYPE_CHECKING:
    from pathlib import Path

COLUMNS = ("name", "size_limit_mb", "labels", "created_at")


@click.group()
def volumes() -> None:
    """Create, list, inspect, rename and delete volumes; read and write their files."""


@volumes.command()
@click.argument("name")
@option("--size", "size_limit_mb", type=int, help="Size limit in MiB (writes past it get 413).")
@option("-l", "--label", "labels", multiple=True, metavar="KEY=VALUE", help="Label.")
@json_option
@pass_session
def create(
    session: Session,
    name: str,
    size_limit_mb: int | None,
    labels: tuple[str, ...],
    *,
    as_json: bool,
) -> None:
    """Create volume NAME; attach it with `quilt containers create … -v NAME:/path`."""
    options: dict[str, Any] = {}
    if size_limit_mb is not None:
        options["size_limit_mb"] = size_limit_mb
    if labels:
        options["labels"] = pairs(labels, "--label")
    made = session.client.volumes.create(name, **options)
    session.show(as_json, lambda: detail(made))


@volumes.command("ls")
@json_option
@pass_session
def list_(session: Session, *, as_json: bool) -> None:
    """List the tenant's volumes."""
    found = session.client.volumes.list()
    session.show(as_json, lambda: table(found, COLUMNS, "no volumes"))


@volumes.command()
@click.argument("name")
@json_option
@pass_session
def get(session: Session, name: str, *, as_json: bool) -> None:
    """Show volume NAME."""
    found = session.client.volumes.get(name)
    session.show(as_json, lambda: detail(found))


@volumes.command()
@click.argument("name")
@json_option
@pass_session
def inspect(session: Session, name: str, *, as_json: bool) -> None:
    """Show volume NAME with the bytes it uses and the containers attaching it."""
    found = session.client.volumes.inspect(name)

    def render() -> None:
        detail(found, ("name", "size_bytes", "size_limit_mb", "mount_point", "created_at"))
        table(found.attached_containers, ("container_id", "name", "target", "read_only"), "")

    session.show(as_json, render)


@volumes.command()
@click.argument("name")
@click.argument("new_name")
@json_option
@pass_session
def rename(session: Session, name: str, new_name: str, *, as_json: bool) -> None:
    """Rename volume NAME to NEW_NAME (attachments follow)."""
    done = session.client.volumes.rename(name, new_name)
    session.show(as_json, lambda: out.print(f"{done.name} → {done.new_name}"))


@volumes.command("rm")
@click.argument("name")
@wait_options
@json_option
@pass_session
def remove(session: Session, name: str, *, wait: bool, wait_timeout: float, as_json: bool) -> None:
    """Delete volume NAME and its data (refused while a container attaches it)."""
    receipt = session.client.volumes.delete(name)
    finish(session, receipt, wait=wait, timeout=wait_timeout, as_json=as_json)


@volumes.command()
@click.argument("name")
@upload_options
@pass_session
def upload(
    session: Session,
    name: str,
    source: Path,
    path: str,
    strip_components: int | None,
    *,
    wait: bool,
    wait_timeout: float,
    as_json: bool,
) -> None:
    """Upload SOURCE (a directory, or a tar file) into volume NAME; an operation."""
    receipt = session.client.volumes.upload_archive(
        name, archive(source), path=path, strip_components=strip_components
    )
    finish(session, receipt, wait=wait, timeout=wait_timeout, as_json=as_json)


@volumes.group()
def files() -> None:
    """List, read, write and delete files in a volume."""


@files.command("ls")
@click.argument("name")
@click.argument("path", default="/")
@option("--page", type=int, help="Page number (from 1).")
@option("--page-size", type=int, help="Entries per page.")
@json_option
@pass_session
def files_list(
    session: Session,
    name: str,
    path: str,
    page: int | None,
    page_size: int | None,
    *,
    as_json: bool,
) -> None:
    """List the directory PATH of volume NAME."""
    found = session.client.volumes.files.list(name, path, page=page, page_size=page_size)
    columns = ("mode", "size", "modified_at", "name")
    session.show(as_json, lambda: table(found.files, columns, f"{found.path} is empty"))


@files.command("cat")
@click.argument("name")
@click.argument("path")
@pass_session
def files_read(session: Session, name: str, path: str) -> None:
    """Write the file PATH of volume NAME to stdout, byte for byte."""
    sys.stdout.buffer.write(session.client.volumes.files.read(name, path))
    sys.stdout.buffer.flush()


@files.command("put")
@click.argument("name")
@click.argument("path")
@click.argument("source", type=click.File("rb"), default="-")
@option("--mode", default="644", show_default=True, help="Permission bits, in octal.")
@json_option
@pass_session
def files_write(
    session: Session,
    name: str,
    path: str,
    source: Any,
    mode: str,
    *,
    as_json: bool,
) -> None:
    """Write SOURCE (a local file, or stdin) to PATH in volume NAME; parents are made."""
    try:
        bits = int(mode, 8)
    except ValueError:
        raise click.BadParameter(f"{mode!r} is not octal", param_hint="--mode") from None
    entry = session.client.volumes.files.write(name, path, source.read(), mode=bits)
    session.show(as_json, lambda: out.print(f"{entry.path} {entry.size} bytes"))


@files.command("rm")
@click.argument("name")
@click.argument("path")
@option("-r", "--recursive", is_flag=True, help="Delete a directory and what it holds.")
@json_option
@pass_session
def files_remove(session: Session, name: str, path: str, *, recursive: bool, as_json: bool) -> None:
    """Delete PATH from volume NAME."""
    gone = session.client.volumes.files.delete(name, path, recursive=recursive)
    session.show(as_json, lambda: out.print(f"deleted {gone.path}"))
