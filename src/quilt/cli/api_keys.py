"""`quilt keys`: the API keys of the caller's tenant."""

from __future__ import annotations

import click

from quilt.cli.common import Session, err, json_option, out, pass_session, table


@click.group("keys")
def api_keys() -> None:
    """Mint, list and revoke API keys of your tenant."""


@api_keys.command("ls")
@json_option
@pass_session
def list_(session: Session, *, as_json: bool) -> None:
    """List the tenant's keys (never their secrets)."""
    found = session.client.api_keys.list()
    columns = ("id", "name", "prefix", "created_at", "last_used_at")
    session.show(as_json, lambda: table(found, columns, "no keys"))


@api_keys.command()
@click.argument("name")
@json_option
@pass_session
def create(session: Session, name: str, *, as_json: bool) -> None:
    """Mint a key called NAME; its secret is printed this once."""
    made = session.client.api_keys.create(name)

    def render() -> None:
        out.print(made.key, markup=False)
        err.print(f"[dim]{made.id}: shown only this once; store it now[/]")

    session.show(as_json, render)


@api_keys.command("rm")
@click.argument("key_id")
@json_option
@pass_session
def remove(session: Session, key_id: str, *, as_json: bool) -> None:
    """Revoke KEY_ID; requests with it are refused from now on."""
    session.client.api_keys.delete(key_id)
    session.show(as_json, lambda: out.print(f"revoked {key_id}"))
