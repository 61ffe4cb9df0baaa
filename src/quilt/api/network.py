"""Routes of the network concern (quilt-api §3.8): addresses, routes, diagnostics, DNS names."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from quilt.api.auth import Caller, platform
from quilt.wire.containers import Renamed
from quilt.wire.network import Readdress, RenameEntry, RouteBody

router = APIRouter(tags=["network"])

CONTAINER = "/api/containers/{container_id}"


@router.get("/api/network/allocations", summary="Your tenant's addresses")
async def allocations(request: Request, caller: Caller) -> dict[str, Any]:
    """Every address held by one of your containers, with the subnet and gateway."""
    return platform(request).network.allocations(caller.tenant_id)


@router.get(CONTAINER + "/network", summary="A container's network")
async def show(request: Request, container_id: str, caller: Caller) -> dict[str, Any]:
    """Address, gateway, MAC, bridge, and the interfaces and routes its namespace really holds."""
    return await platform(request).network.show(caller.tenant_id, container_id)


@router.put(CONTAINER + "/network", summary="Move a container to another address")
async def readdress(
    request: Request, container_id: str, body: Readdress, caller: Caller
) -> dict[str, Any]:
    """A free address of the subnet (409 if another container holds it); routes are kept."""
    network = platform(request).network
    return await network.readdress(caller.tenant_id, container_id, body.ip_address)


@router.post(CONTAINER + "/network/setup", summary="Program a container's network again")
async def setup(request: Request, container_id: str, caller: Caller) -> dict[str, Any]:
    """Recreate what is missing (veth, address, default route, routes, rules); says what ran.

    The body is ignored (`{}` or none).
    """
    return await platform(request).network.setup(caller.tenant_id, container_id)


@router.get(CONTAINER + "/network/diagnostics", summary="Check a container's network")
async def diagnostics(request: Request, container_id: str, caller: Caller) -> dict[str, Any]:
    """Links, addresses and routes read from the namespace, and a ping of the gateway."""
    return await platform(request).network.diagnostics(caller.tenant_id, container_id)


@router.get(CONTAINER + "/egress", summary="A container's traffic and egress")
async def egress(request: Request, container_id: str, caller: Caller) -> dict[str, Any]:
    """Bytes and packets in and out of eth0, and whether traffic may leave the host."""
    return platform(request).network.egress(caller.tenant_id, container_id)


@router.post(CONTAINER + "/routes", status_code=201, summary="Add a route inside a container")
async def add_route(
    request: Request, container_id: str, body: RouteBody, caller: Caller
) -> dict[str, Any]:
    """Route a network via the gateway from inside the container; kept across restarts."""
    network = platform(request).network
    return await network.add_route(caller.tenant_id, container_id, body.destination)


@router.delete(CONTAINER + "/routes", summary="Remove a route from a container")
async def delete_route(
    request: Request, container_id: str, body: RouteBody, caller: Caller
) -> dict[str, Any]:
    """Remove a route added with POST …/routes (404 if there is none)."""
    network = platform(request).network
    return await network.delete_route(caller.tenant_id, container_id, body.destination)


@router.get("/api/dns/entries", summary="Your containers' names")
async def dns_entries(request: Request, caller: Caller) -> dict[str, Any]:
    """Each name your containers resolve to one another by, with its address."""
    return platform(request).network.dns_entries(caller.tenant_id)


@router.post("/api/dns/entries/{current_name}/rename", summary="Rename a container by name")
async def rename_entry(
    request: Request, current_name: str, body: RenameEntry, caller: Caller
) -> Renamed:
    """Give the container called `current_name` a new name; its peers resolve it at once."""
    p = platform(request)
    record = p.containers.by_name(caller.tenant_id, current_name)
    old, new = p.containers.rename(caller.tenant_id, record.container_id, body.new_name)
    return Renamed(container_id=record.container_id, old_name=old, new_name=new, dns_updated=True)
