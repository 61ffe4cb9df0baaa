"""Typed results of the access concerns: network and DNS, published services, terminals.

Same rules as `_models`: wire names kept, unknown fields kept, no network I/O.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from quilt.sdk._models import Model

# -- network --------------------------------------------------------------------------------


class Interface(Model):
    """A network interface inside a container's namespace."""

    name: str
    mac_address: str | None = None
    up: bool = False
    operstate: str | None = None
    addresses: list[str] = Field(default_factory=list)


class Route(Model):
    """A route a container's namespace holds."""

    destination: str
    gateway: str | None = None
    device: str | None = None


class ContainerNetwork(Model):
    """A container's address, gateway, MAC, bridge, and what its namespace really holds."""

    container_id: str
    name: str | None = None
    ip_address: str | None = None
    gateway: str | None = None
    subnet: str | None = None
    prefix_length: int | None = None
    mac_address: str | None = None
    bridge: str | None = None
    dns_name: str | None = None
    network_ready: bool = False
    interfaces: list[Interface] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    custom_routes: list[str] = Field(default_factory=list)


class NetworkSetup(Model):
    """What programming a container's network again did."""

    success: bool = True
    container_id: str
    actions: list[str] = Field(default_factory=list)
    network: ContainerNetwork


class NetworkDiagnostics(Model):
    """Each step of a container's path to its gateway, checked for real."""

    container_id: str
    ok: bool
    problems: list[str] = Field(default_factory=list)
    hint: str | None = None
    checks: dict[str, bool] = Field(default_factory=dict)
    gateway: dict[str, Any] = Field(default_factory=dict)
    namespace: str | None = None
    host_veth: str | None = None
    interfaces: list[Interface] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    egress: dict[str, Any] = Field(default_factory=dict)


class Egress(Model):
    """A container's traffic counters and whether its traffic may leave the host."""

    container_id: str
    mode: str | None = None
    enabled: bool = False
    uplinks: list[str] = Field(default_factory=list)
    reason: str | None = None
    hint: str | None = None
    limit_mbit: float | None = None
    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_packets: int = 0
    tx_packets: int = 0
    rx_dropped: int = 0
    tx_dropped: int = 0


class RouteChange(Model):
    """A container's custom routes after one was added or removed."""

    success: bool = True
    container_id: str
    destination: str
    gateway: str | None = None
    routes: list[str] = Field(default_factory=list)


class Allocation(Model):
    """An address held by one of the tenant's containers."""

    container_id: str
    name: str | None = None
    ip_address: str | None = None
    mac_address: str | None = None
    state: str | None = None


class Allocations(Model):
    """The tenant's addresses, with the subnet, gateway and bridge they live on."""

    subnet: str | None = None
    gateway: str | None = None
    bridge: str | None = None
    allocations: list[Allocation] = Field(default_factory=list)


class DnsEntry(Model):
    """A name the tenant's containers resolve one another by."""

    name: str
    ip_address: str | None = None
    container_id: str
    state: str | None = None


# -- services -------------------------------------------------------------------------------


class Service(Model):
    """A published container port, reachable through the Linx ingress at `public_url`."""

    service_id: str
    container_id: str
    name: str
    target_port: int
    protocol: str = "http"
    enable_websockets: bool = True
    auth_mode: str = Field(default="service_token", description="service_token or public")
    public_url: str
    websocket_url: str | None = None
    status: str = Field(description="pending, ready, target_unreachable, expired or error")
    ttl_secs: int | None = None
    created_at: int | None = Field(default=None, description="Unix seconds")
    updated_at: int | None = None
    expires_at: int | None = None


# -- terminals ------------------------------------------------------------------------------


class TerminalSession(Model):
    """A shell on a real terminal in a container; attach to it over WebSocket at `attach_url`."""

    session_id: str
    container_id: str
    target: str = "container"
    state: str
    shell: str | None = None
    cols: int = 80
    rows: int = 24
    pid: int | None = None
    attach_url: str
    created_at: str | None = None
    expires_at: str | None = None
    idle_timeout_seconds: float | None = None
    attached_clients: int = 0
    exit_code: int | None = None
    exit_signal: int | None = None
