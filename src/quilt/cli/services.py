"""`quilt services`: publish a container's port behind a signed URL (the Linx ingress)."""

from __future__ import annotations

from typing import Any

import click

from quilt.cli.common import Session, detail, json_option, option, out, pass_session, table

COLUMNS = ("service_id", "name", "target_port", "status", "auth_mode", "public_url")


@click.group()
def services() -> None:
    """Publish container ports as URLs; list and end them."""


@services.command()
@click.argument("container")
@click.argument("port", type=int)
@option("--name", help="Service name [web-PORT].")
@option("--public", is_flag=True, help="No token: anyone with the URL may use it.")
@option("--ttl", "ttl_secs", type=int, help="End the service after this many seconds.")
@option("--no-websockets", is_flag=True, help="Refuse WebSocket upgrades.")
@json_option
@pass_session
def create(
    session: Session,
    container: str,
    port: int,
    name: str | None,
    ttl_secs: int | None,
    *,
    public: bool,
    no_websockets: bool,
    as_json: bool,
) -> None:
    """Publish PORT of CONTAINER; prints the URL to open (the app must listen on PORT)."""
    options: dict[str, Any] = {"auth_mode": "public" if public else "service_token"}
    if ttl_secs is not None:
        options["ttl_secs"] = ttl_secs
    if no_websockets:
        options["enable_websockets"] = False
    made = session.client.services.create(container, name or f"web-{port}", port, **options)

    def render() -> None:
        out.print(made.public_url, markup=False)
        click.echo(f"{made.service_id} {made.status}", err=True)

    session.show(as_json, render)


@services.command("ls")
@click.argument("container")
@json_option
@pass_session
def list_(session: Session, container: str, *, as_json: bool) -> None:
    """List CONTAINER's published services."""
    found = session.client.services.list(container)
    session.show(as_json, lambda: table(found, COLUMNS, "no services"))


@services.command()
@click.argument("service_id")
@json_option
@pass_session
def get(session: Session, service_id: str, *, as_json: bool) -> None:
    """Show SERVICE_ID, its state and its URLs."""
    found = session.client.services.get(service_id)
    session.show(as_json, lambda: detail(found))


@services.command("rm")
@click.argument("service_id")
@json_option
@pass_session
def remove(session: Session, service_id: str, *, as_json: bool) -> None:
    """End SERVICE_ID; its URL stops working at once."""
    session.client.services.delete(service_id)
    session.show(as_json, lambda: out.print(f"deleted {service_id}"))
