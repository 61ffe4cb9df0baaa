"""HostNetwork: the bridge, the packet rules, egress and each container's namespace on this host.

It wires namespaces as containers start, keeps the firewall's sets in step with who owns which
port, and carries out the network routes' changes (re-addressing, routes, repair, checks).
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Network
from typing import TYPE_CHECKING

from quilt import logs
from quilt.domain import ipam
from quilt.domain.network import Egress, plan_egress
from quilt.drivers.network import bridge, configure, netns
from quilt.drivers.network.firewall import Firewall, Port

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from ipaddress import IPv4Address

    from quilt.drivers.network.configure import Counters, Reachability
    from quilt.drivers.network.netns import NetnsReport
    from quilt.node.layout import Layout
    from quilt.settings import Settings

log = logs.get(__name__)

LOCALHOST = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


class HostNetwork:
    """One server's bridge, firewall and egress, and its containers' namespaces."""

    def __init__(self, settings: Settings, layout: Layout) -> None:
        self.bridge = settings.bridge
        self.subnet = ipam.Subnet.parse(settings.subnet)
        self.layout = layout
        bridge.ensure_bridge(self.bridge, self.subnet)
        uplinks = settings.uplinks or tuple(bridge.default_route_devices())
        self.egress: Egress = plan_egress(
            settings.egress, uplinks, {u: bridge.forwarding(u) for u in uplinks}
        )
        if self.egress.enable_forwarding:
            for uplink in self.egress.uplinks:
                if not bridge.forwarding(uplink):
                    log.info("network.forwarding_enabled", interface=uplink)
                    bridge.set_forwarding(uplink, on=True)
        # Forwarding on our own bridge only: never the host-wide net.ipv4.ip_forward.
        bridge.set_forwarding(self.bridge, on=self.egress.enabled)
        if not self.egress.enabled:
            log.info("network.egress_off", reason=self.egress.reason, hint=self.egress.hint)
        self.firewall = Firewall(self.bridge, self.subnet)

    # -- the rules -----------------------------------------------------------------------

    def isolate(self, running: Mapping[str, tuple[str, IPv4Address]]) -> None:
        """Rebuild the rules for exactly these containers (id -> tenant, address), at start."""
        ports = [
            Port(self.veth(container_id), address, group)
            for container_id, (group, address) in running.items()
        ]
        self.firewall.install(ports, masquerade=self.egress.enabled)

    def admit(self, container_id: str, address: IPv4Address, group: str | None) -> None:
        """Let a container's port talk as `address`, to its group's other ports (none if None)."""
        self.firewall.admit(Port(self.veth(container_id), address, group))

    def join(self, container_id: str, group: str | None) -> None:
        """Move an admitted port (a claimed pool member) into `group`, keeping its address."""
        port = self.firewall.port(self.veth(container_id))
        if port is not None:
            self.firewall.admit(replace(port, group=group))

    def forget(self, container_id: str) -> None:
        """Drop a container's port from the rules."""
        self.firewall.forget(self.veth(container_id))

    def veth(self, container_id: str) -> str:
        """The host end of a container's veth pair."""
        return netns.host_veth_name(self.namespace(container_id))

    def namespace(self, container_id: str) -> str:
        """The name of a container's network namespace (under /run/netns)."""
        return self.layout.netns(container_id)

    # -- namespaces --------------------------------------------------------------------------

    def has_namespace(self, container_id: str) -> bool:
        """Whether the container has a network namespace (it ran, and was not deleted)."""
        return netns.exists(self.namespace(container_id))

    async def wire(
        self,
        container_id: str,
        address: IPv4Address,
        group: str | None,
        routes: Sequence[str] = (),
    ) -> None:
        """Make the container's namespace (replacing a stale one), with its routes; admit it."""
        name = self.namespace(container_id)
        if netns.exists(name):
            netns.delete(name)
        await netns.create(
            name,
            bridge=self.bridge,
            address=address,
            subnet=self.subnet,
            mac=ipam.mac_for(address),
        )
        for route in routes:
            await self.add_route(container_id, IPv4Network(route))
        self.admit(container_id, address, group)

    def unwire(self, container_id: str) -> None:
        """Remove the namespace and the port's rules (idempotent)."""
        self.forget(container_id)
        netns.delete(self.namespace(container_id))

    async def report(self, container_id: str) -> NetnsReport:
        """What the container's namespace holds, read from the kernel."""
        return await netns.inspect(self.namespace(container_id))

    async def readdress(
        self, container_id: str, address: IPv4Address, routes: Sequence[IPv4Network]
    ) -> None:
        """Move a running container's eth0 to `address`, keeping its routes and group."""
        name = self.namespace(container_id)
        await configure.configure(name, address, self.subnet, routes, readdress=True)
        port = self.firewall.port(self.veth(container_id))
        self.admit(container_id, address, port.group if port else None)

    async def repair(
        self,
        container_id: str,
        address: IPv4Address,
        routes: Sequence[IPv4Network],
        group: str,
    ) -> list[str]:
        """Set a running container's network up again as it should be; say what was redone."""
        name = self.namespace(container_id)
        done = []
        if await configure.repair(name, self.bridge, ipam.mac_for(address)):
            done.append("veth pair recreated on the bridge")
        await configure.configure(name, address, self.subnet, routes)
        done.append("eth0 address, default route and routes programmed")
        self.admit(container_id, address, group)
        done.append("firewall port admitted")
        return done

    async def add_route(self, container_id: str, destination: IPv4Network) -> None:
        """Route `destination` via the gateway inside the container."""
        await configure.add_route(self.namespace(container_id), destination, self.subnet.gateway)

    async def delete_route(self, container_id: str, destination: IPv4Network) -> None:
        """Remove a route from inside the container."""
        await configure.delete_route(self.namespace(container_id), destination)

    async def ping_gateway(self, container_id: str) -> Reachability:
        """One ICMP echo from the container to its gateway."""
        return await configure.ping(self.namespace(container_id), self.subnet.gateway)

    def counters(self, container_id: str) -> Counters:
        """The container's eth0 counters."""
        return configure.counters(self.namespace(container_id))

    def write_hosts(
        self, container_id: str, address: IPv4Address, peers: Iterable[tuple[str, str]]
    ) -> None:
        """Write the container's /etc/hosts: itself, then each (address, name) of its peers.

        Written in place (same inode), so the file bound into a running container changes too.
        """
        etc = self.layout.container(container_id).etc
        if not etc.is_dir():
            return
        lines = [LOCALHOST, f"{address}\t{container_id}\n"]
        lines += [f"{ip}\t{name}\n" for ip, name in peers]
        with (etc / "hosts").open("r+" if (etc / "hosts").exists() else "w") as f:
            f.write("".join(lines))
            f.truncate()
