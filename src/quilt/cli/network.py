"""`quilt network`: a container's address, routes and diagnostics; the tenant's DNS names."""

from __future__ import annotations

import click

from quilt.cli.common import Session, detail, json_option, out, pass_session, table

SHOWN = (
    "container_id",
    "name",
    "ip_address",
    "gateway",
    "subnet",
    "mac_address",
    "bridge",
    "dns_name",
    "network_ready",
    "custom_routes",
)


@click.group()
def network() -> None:
    """Addresses, routes, diagnostics and DNS names of containers."""


@network.command()
@click.argument("container")
@json_option
@pass_session
def get(session: Session, container: str, *, as_json: bool) -> None:
    """Show CONTAINER's address, gateway, MAC and routes, read from its namespace."""
    found = session.client.network.get(container)

    def render() -> None:
        detail(found, SHOWN)
        table(found.routes, ("destination", "gateway", "device"), "")

    session.show(as_json, render)


@network.command()
@click.argument("container")
@click.argument("ip_address")
@json_option
@pass_session
def readdress(session: Session, container: str, ip_address: str, *, as_json: bool) -> None:
    """Move CONTAINER to IP_ADDRESS, a free address of the subnet."""
    found = session.client.network.readdress(container, ip_address)
    session.show(as_json, lambda: out.print(f"{found.name} {found.ip_address}"))


@network.command()
@click.argument("container")
@json_option
@pass_session
def setup(session: Session, container: str, *, as_json: bool) -> None:
    """Program CONTAINER's veth, address, routes and rules again; say what was redone."""
    done = session.client.network.setup(container)
    session.show(as_json, lambda: out.print("\n".join(done.actions) or "nothing to redo"))


@network.command()
@click.argument("container")
@json_option
@pass_session
def diagnostics(session: Session, container: str, *, as_json: bool) -> None:
    """Check CONTAINER's network for real: links, addresses, routes, the gateway pinged."""
    found = session.client.network.diagnostics(container)

    def render() -> None:
        out.print("ok" if found.ok else "problems: " + "; ".join(found.problems))
        detail(found.checks)
        if found.hint:
            out.print(f"hint: {found.hint}")

    session.show(as_json, render)


@network.command()
@click.argument("container")
@json_option
@pass_session
def egress(session: Session, container: str, *, as_json: bool) -> None:
    """Show CONTAINER's traffic counters and whether traffic may leave the host."""
    found = session.client.network.egress(container)
    session.show(as_json, lambda: detail(found))


@network.group()
def routes() -> None:
    """Routes programmed inside a container's namespace (kept across restarts)."""


@routes.command("add")
@click.argument("container")
@click.argument("destination")
@json_option
@pass_session
def routes_add(session: Session, container: str, destination: str, *, as_json: bool) -> None:
    """Route DESTINATION (a CIDR) via the gateway inside CONTAINER."""
    done = session.client.network.add_route(container, destination)
    session.show(as_json, lambda: out.print(", ".join(done.routes)))


@routes.command("rm")
@click.argument("container")
@click.argument("destination")
@json_option
@pass_session
def routes_remove(session: Session, container: str, destination: str, *, as_json: bool) -> None:
    """Remove the route to DESTINATION from CONTAINER."""
    done = session.client.network.delete_route(container, destination)
    session.show(as_json, lambda: out.print(", ".join(done.routes) or "no custom routes"))


@network.command()
@json_option
@pass_session
def allocations(session: Session, *, as_json: bool) -> None:
    """List the addresses handed out on the tenant's subnet."""
    found = session.client.network.allocations()
    columns = ("ip_address", "name", "container_id", "state", "mac_address")
    session.show(as_json, lambda: table(found.allocations, columns, "no addresses in use"))


@network.command()
@json_option
@pass_session
def dns(session: Session, *, as_json: bool) -> None:
    """List the names the tenant's containers reach each other by."""
    found = session.client.network.dns_entries()
    columns = ("name", "ip_address", "container_id", "state")
    session.show(as_json, lambda: table(found, columns, "no names"))
