"""The Quilt bridge: a Linux bridge holding the gateway address, which containers' veths join.

Owns the bridge device and reads or sets per-interface IPv4 forwarding. Never changes
host-wide settings (`net.ipv4.ip_forward`); packet rules live in `firewall`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import socket
import struct
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Interface
from pathlib import Path
from typing import TYPE_CHECKING, Final

from quilt.domain.ipam import mac_for
from quilt.drivers.commands import describe_failure, run
from quilt.errors import HostError

if TYPE_CHECKING:
    from quilt.domain.ipam import Subnet

SYS_NET: Final = Path("/sys/class/net")
IPV4_CONF: Final = Path("/proc/sys/net/ipv4/conf")
ROUTES: Final = Path("/proc/net/route")
IFF_UP: Final = 0x1
# `addr_assign_type` 3 (NET_ADDR_SET): the MAC was set by hand, so the bridge keeps it.
NET_ADDR_SET: Final = 3
SIOCGIFADDR: Final = 0x8915
SIOCGIFNETMASK: Final = 0x891B


@dataclass(frozen=True)
class BridgeState:
    """What the host says about a bridge right now."""

    exists: bool
    up: bool
    addresses: list[str] = field(default_factory=list)  # IPv4 in CIDR form, e.g. 10.203.0.1/16


def link_attribute(name: str, attribute: str) -> str | None:
    """One sysfs attribute of a network link, or None if the link is gone."""
    try:
        return (SYS_NET / name / attribute).read_text().strip()
    except OSError:
        return None


def link_is_up(name: str) -> bool:
    """Whether the link is administratively up."""
    flags = link_attribute(name, "flags")
    return flags is not None and bool(int(flags, 16) & IFF_UP)


def ipv4_interface(name: str) -> IPv4Interface | None:
    """The primary IPv4 address/prefix of an interface, read with ioctls (no process spawned).

    Reads the network namespace of the calling thread, so a thread that has joined a container's
    namespace sees that namespace's interfaces.
    """
    request = struct.pack("256s", name.encode())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            address = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, request)
            netmask = fcntl.ioctl(sock.fileno(), SIOCGIFNETMASK, request)
        except OSError:  # no such device, or it has no IPv4 address
            return None
    # struct ifreq: 16 bytes of name, then a sockaddr_in whose address starts at byte 4.
    return IPv4Interface(f"{socket.inet_ntoa(address[20:24])}/{socket.inet_ntoa(netmask[20:24])}")


def bridge_state(name: str) -> BridgeState:
    """Whether the bridge exists and is up, and all of its IPv4 addresses."""
    if not (SYS_NET / name / "bridge").is_dir():
        return BridgeState(exists=False, up=False)
    shown = run(["ip", "-j", "-4", "addr", "show", "dev", name], check=False)
    addresses: list[str] = []
    if shown.returncode == 0:
        with contextlib.suppress(ValueError):  # the bridge vanished between the two reads
            for link in json.loads(shown.text or "[]"):
                addresses += [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", [])]
    return BridgeState(exists=True, up=link_is_up(name), addresses=addresses)


def ensure_bridge(name: str, subnet: Subnet) -> None:
    """Create the bridge with the gateway address if missing and bring it up (idempotent).

    When the bridge already exists, up, with its MAC pinned and the gateway as its primary
    address, this only reads sysfs and two ioctls.
    """
    gateway = IPv4Interface(f"{subnet.gateway}/{subnet.prefixlen}")
    # A bridge without a MAC of its own takes the lowest MAC among its ports, so it would change
    # whenever a container comes or goes and containers' ARP entries for the gateway would go
    # stale. Pinning one derived from the gateway keeps it stable.
    mac = mac_for(subnet.gateway)
    if not (SYS_NET / name).exists():
        run(["ip", "link", "add", name, "address", mac, "type", "bridge"])
    elif not (SYS_NET / name / "bridge").is_dir():
        raise HostError(f"network interface {name} exists but is not a bridge")
    if link_attribute(name, "addr_assign_type") != str(NET_ADDR_SET):
        run(["ip", "link", "set", name, "address", mac])
    if ipv4_interface(name) != gateway and str(gateway) not in bridge_state(name).addresses:
        run(["ip", "addr", "replace", str(gateway), "dev", name])
    if not link_is_up(name):
        run(["ip", "link", "set", name, "up"])


def ports(name: str) -> list[str]:
    """The interfaces attached to the bridge, sorted (none if it does not exist)."""
    try:
        return sorted(p.name for p in (SYS_NET / name / "brif").iterdir())
    except FileNotFoundError:
        return []


def wait_until_unused(name: str, timeout: float = 1.0) -> bool:
    """Wait until no interface is attached to the bridge; False if some still are at `timeout`.

    Deleting a namespace returns at once but the kernel frees its veth pair, and so the bridge
    port, asynchronously (~20-40 ms later): call this before deciding a bridge is unused.
    """
    deadline = time.monotonic() + timeout
    while ports(name):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True


def delete_bridge(name: str) -> None:
    """Delete the bridge if it exists (idempotent); ports still attached are detached."""
    if (SYS_NET / name / "bridge").is_dir():
        done = run(["ip", "link", "del", name], check=False)
        # Fail only if it is still there: losing a race with another delete is not a failure.
        if done.returncode != 0 and (SYS_NET / name).exists():
            raise HostError(describe_failure(done.argv, done.returncode, done.stderr))


def forwarding(name: str) -> bool | None:
    """Whether the host forwards IPv4 arriving on `name` (None: no such interface)."""
    try:
        return (IPV4_CONF / name / "forwarding").read_text().strip() == "1"
    except OSError:
        return None


def set_forwarding(name: str, *, on: bool) -> None:
    """Turn IPv4 forwarding for traffic arriving on `name` on or off."""
    try:
        (IPV4_CONF / name / "forwarding").write_text("1" if on else "0")
    except OSError as exc:
        raise HostError(f"cannot set net.ipv4.conf.{name}.forwarding: {exc.strerror}") from exc


def default_route_devices() -> list[str]:
    """The interfaces the host's IPv4 default routes leave by, sorted."""
    try:
        rows = [line.split() for line in ROUTES.read_text().splitlines()[1:]]
    except OSError:
        return []
    # Columns: Iface, Destination, Gateway, Flags, ..., Mask (hex); default: 0.0.0.0/0.
    return sorted({r[0] for r in rows if len(r) > 7 and r[1] == "00000000" and r[7] == "00000000"})  # noqa: PLR2004
