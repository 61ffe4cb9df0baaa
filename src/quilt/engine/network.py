"""The network concern: addresses, routes, diagnostics, egress counters and names (§3.8).

Every container of a tenant can reach the others by address and by name: each container's
/etc/hosts lists its tenant's containers, rewritten whenever a name, an address or the set of
containers changes. Other tenants' containers are unreachable (the firewall's groups).
"""

from __future__ import annotations

from dataclasses import asdict
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING, Any

from quilt import logs
from quilt.domain import ipam
from quilt.domain.network import check_destination, check_new_address
from quilt.domain.states import ContainerState
from quilt.engine.containers import conflict
from quilt.errors import Conflict, HostError, NotFound

if TYPE_CHECKING:
    from quilt.domain.ids import TenantId
    from quilt.domain.records import ContainerRecord
    from quilt.drivers.network.netns import Interface, NetnsReport, Route
    from quilt.engine.containers import Containers
    from quilt.node.network import HostNetwork
    from quilt.store.store import Store

log = logs.get(__name__)

# A container whose address may change: not mid-start (its namespace is being made).
READDRESSABLE = frozenset(
    {
        ContainerState.CREATED,
        ContainerState.RUNNING,
        ContainerState.STOPPED,
        ContainerState.EXITED,
        ContainerState.ERROR,
    }
)


class Network:
    """Addresses, routes and names of a tenant's containers."""

    def __init__(self, store: Store, host: HostNetwork, containers: Containers) -> None:
        self.store = store
        self.host = host
        self.containers = containers
        # Each container's (name, address) as last written into its tenant's hosts files.
        self._entries: dict[str, tuple[str, str | None]] = {}
        store.containers.watchers.append(self._container_changed)

    # -- reading -------------------------------------------------------------------------

    def allocations(self, tenant_id: TenantId) -> dict[str, Any]:
        """The tenant's addresses, with the subnet they come from."""
        return {
            "subnet": str(self.host.subnet),
            "gateway": str(self.host.subnet.gateway),
            "bridge": self.host.bridge,
            "allocations": [
                {
                    "container_id": r.container_id,
                    "name": r.name,
                    "ip_address": r.ip_address,
                    "mac_address": ipam.mac_for(IPv4Address(r.ip_address)),
                    "state": r.state.value,
                }
                for r in self.store.containers.list(tenant_id)
                if r.ip_address
            ],
        }

    async def show(self, tenant_id: TenantId, container_id: str) -> dict[str, Any]:
        """The container's address, gateway, MAC, bridge, and what its namespace holds."""
        record = self.containers.get(tenant_id, container_id)
        return await self._view(record)

    async def _report(self, record: ContainerRecord) -> NetnsReport | None:
        try:
            return await self.host.report(record.container_id)
        except HostError:
            return None  # no namespace (never started, or torn down)

    async def _view(self, record: ContainerRecord) -> dict[str, Any]:
        report = await self._report(record)
        subnet = self.host.subnet
        address = record.ip_address
        eth0 = report.interface("eth0") if report else None
        mac = ipam.mac_for(IPv4Address(address)) if address else None
        return {
            "container_id": record.container_id,
            "name": record.name,
            "ip_address": address,
            "gateway": str(subnet.gateway),
            "subnet": str(subnet),
            "prefix_length": subnet.prefixlen,
            "mac_address": eth0.mac if eth0 else mac,
            "bridge": self.host.bridge,
            "dns_name": record.name,
            "network_ready": bool(
                record.state is ContainerState.RUNNING
                and report
                and address
                and report.eth0_up
                and report.eth0_address
                and str(report.eth0_address.ip) == address
            ),
            "interfaces": [_interface(i) for i in report.interfaces] if report else [],
            "routes": [_route(r) for r in report.routes] if report else [],
            "custom_routes": list(record.routes),
        }

    # -- changing ------------------------------------------------------------------------

    async def readdress(
        self, tenant_id: TenantId, container_id: str, ip_address: object
    ) -> dict[str, Any]:
        """Move the container to another free address of the subnet (409 if it is taken)."""
        record = self.containers.get(tenant_id, container_id)
        async with self.containers.lock(record.container_id):
            record = self.containers.get(tenant_id, container_id)
            if record.state not in READDRESSABLE:
                raise conflict(record, "re-address")
            holders = {IPv4Address(a): o for o, a in self.store.addresses.owners().items()}
            address = check_new_address(ip_address, self.host.subnet, holders, record.container_id)
            old = record.ip_address
            if str(address) != old:
                if not self.store.addresses.move(record.container_id, str(address)):
                    raise Conflict(
                        f"{address} was taken by another container just now",
                        details={"field": "ip_address", "received": ip_address},
                    )
                try:
                    if self.host.has_namespace(record.container_id):
                        await self.host.readdress(
                            record.container_id, address, _networks(record.routes)
                        )
                except BaseException:
                    if old:
                        self.store.addresses.move(record.container_id, old)
                    raise
                self.store.containers.update(record.container_id, ip_address=str(address))
                log.info(
                    "network.readdressed",
                    container_id=record.container_id,
                    old=old,
                    new=str(address),
                )
            return await self._view(self.containers.get(tenant_id, container_id))

    async def setup(self, tenant_id: TenantId, container_id: str) -> dict[str, Any]:
        """Program the running container's network again: veth, address, routes, rules."""
        record = self.containers.running(tenant_id, container_id, "set up the network of")
        async with self.containers.lock(record.container_id):
            actions = await self.host.repair(
                record.container_id,
                IPv4Address(record.ip_address or ""),
                _networks(record.routes),
                record.tenant_id,
            )
            self.refresh_hosts(record.tenant_id)
            actions.append("/etc/hosts rewritten")
            return {
                "success": True,
                "container_id": record.container_id,
                "actions": actions,
                "network": await self._view(record),
            }

    async def diagnostics(self, tenant_id: TenantId, container_id: str) -> dict[str, Any]:
        """Read the real namespace and check each step of the path to the gateway."""
        record = self.containers.get(tenant_id, container_id)
        report = await self._report(record)
        running = record.state is ContainerState.RUNNING
        address = record.ip_address
        eth0 = report.eth0_address if report else None
        checks = {
            "container_running": running,
            "namespace_exists": report is not None,
            "bridge_attached": bool(report and report.bridge == self.host.bridge),
            "eth0_up": bool(report and report.eth0_up),
            "address_matches": bool(eth0 and str(eth0.ip) == address),
            "default_route": bool(report and report.default_gateway == self.host.subnet.gateway),
            "custom_routes_present": bool(
                report and {r.destination for r in report.routes} >= set(record.routes)
            ),
        }
        gateway: dict[str, Any] = {"target": str(self.host.subnet.gateway), "reachable": False}
        if running and report is not None:
            reach = await self.host.ping_gateway(record.container_id)
            gateway = {"target": reach.target, "reachable": reach.reachable, "rtt_ms": reach.rtt_ms}
        checks["gateway_reachable"] = gateway["reachable"]
        problems = [name for name, ok in checks.items() if not ok]
        egress = self.host.egress
        return {
            "container_id": record.container_id,
            "ok": not problems,
            "problems": problems,
            "hint": (
                "POST /api/containers/<id>/network/setup programs the network again"
                if problems and running
                else None
            ),
            "checks": checks,
            "gateway": gateway,
            "namespace": self.host.namespace(record.container_id),
            "host_veth": self.host.veth(record.container_id),
            "interfaces": [_interface(i) for i in report.interfaces] if report else [],
            "routes": [_route(r) for r in report.routes] if report else [],
            "egress": {"mode": egress.mode, "enabled": egress.enabled, "reason": egress.reason},
        }

    def egress(self, tenant_id: TenantId, container_id: str) -> dict[str, Any]:
        """The container's traffic counters and whether it may leave the host."""
        record = self.containers.get(tenant_id, container_id)
        egress = self.host.egress
        return {
            "container_id": record.container_id,
            "mode": egress.mode,
            "enabled": egress.enabled,
            "uplinks": list(egress.uplinks),
            "reason": egress.reason,
            "hint": egress.hint,
            "limit_mbit": None,
            **asdict(self.host.counters(record.container_id)),
        }

    async def add_route(
        self, tenant_id: TenantId, container_id: str, destination: object
    ) -> dict[str, Any]:
        """Route `destination` via the gateway inside the container; kept across restarts."""
        return await self._change_route(tenant_id, container_id, destination, add=True)

    async def delete_route(
        self, tenant_id: TenantId, container_id: str, destination: object
    ) -> dict[str, Any]:
        """Remove a route added with `add_route` (404 if it has no such route)."""
        return await self._change_route(tenant_id, container_id, destination, add=False)

    async def _change_route(
        self, tenant_id: TenantId, container_id: str, destination: object, *, add: bool
    ) -> dict[str, Any]:
        record = self.containers.get(tenant_id, container_id)
        network = check_destination(destination, self.host.subnet)
        async with self.containers.lock(record.container_id):
            record = self.containers.get(tenant_id, container_id)
            if record.state is ContainerState.STARTING:
                raise conflict(record, "change the routes of")
            if not add and str(network) not in record.routes:
                raise NotFound(
                    f"container {record.container_id} has no route to {network}",
                    details={"routes": record.routes},
                )
            if record.state is ContainerState.RUNNING:
                change = self.host.add_route if add else self.host.delete_route
                await change(record.container_id, network)
            kept = set(record.routes) - {str(network)}
            routes = sorted(kept | {str(network)} if add else kept)
            self.store.containers.update(record.container_id, routes=routes)
        return {
            "success": True,
            "container_id": record.container_id,
            "destination": str(network),
            "gateway": str(self.host.subnet.gateway),
            "routes": routes,
        }

    # -- names -----------------------------------------------------------------------------

    def dns_entries(self, tenant_id: TenantId) -> dict[str, Any]:
        """Each of the tenant's names and the address it resolves to inside the tenant."""
        return {
            "entries": [
                {
                    "name": r.name,
                    "ip_address": r.ip_address,
                    "container_id": r.container_id,
                    "state": r.state.value,
                }
                for r in self.store.containers.list(tenant_id)
                if r.ip_address
            ]
        }

    def refresh_hosts(self, tenant_id: TenantId) -> None:
        """Rewrite every /etc/hosts of the tenant's containers from their names and addresses."""
        records = [r for r in self.store.containers.list(tenant_id) if r.ip_address]
        entries = [(r.ip_address or "", r.name) for r in records]
        for record in records:
            try:
                self.host.write_hosts(
                    record.container_id, IPv4Address(record.ip_address or ""), entries
                )
            except OSError as exc:
                log.warning("network.hosts_failed", container_id=record.container_id, error=exc)

    def _container_changed(self, record: ContainerRecord, gone: bool) -> None:
        """Rewrite the tenant's hosts files when a container's name or address came or went.

        Most writes (state, pid, exit code) change neither, and cost nothing here.
        """
        entry = (record.name, record.ip_address)
        if gone:
            self._entries.pop(record.container_id, None)
        elif self._entries.get(record.container_id) == entry:
            return
        else:
            self._entries[record.container_id] = entry
        self.refresh_hosts(record.tenant_id)


def _networks(routes: list[str]) -> list[IPv4Network]:
    return [IPv4Network(r) for r in routes]


def _interface(interface: Interface) -> dict[str, Any]:
    return {
        "name": interface.name,
        "mac_address": interface.mac,
        "up": interface.up,
        "operstate": interface.operstate,
        "addresses": [str(a) for a in interface.addresses],
    }


def _route(route: Route) -> dict[str, Any]:
    return {
        "destination": route.destination,
        "gateway": str(route.gateway) if route.gateway else None,
        "device": route.device,
    }
