"""Per-container network namespaces: a named netns, a veth pair on the bridge, an address.

The only module that creates or removes namespaces. Creation takes two `ip -batch` runs (host
side, then inside the namespace); removal unmounts and unlinks the namespace file, and the
kernel frees the veth pair with the namespace (far faster than `ip link del`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from quilt.drivers.commands import arun, run
from quilt.errors import HostError

if TYPE_CHECKING:
    from ipaddress import IPv4Address

    from quilt.domain.ipam import Subnet

NETNS_DIR: Final = Path("/run/netns")
MNT_DETACH: Final = 2
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


@dataclass(frozen=True)
class Netns:
    """A container's network namespace as made."""

    name: str
    path: Path
    host_veth: str
    address: IPv4Address
    gateway: IPv4Address
    mac: str


def host_veth_name(ns: str) -> str:
    """The host end's name: `qv` + 12 hex of a hash of the namespace (15 characters at most)."""
    return "qv" + hashlib.sha256(ns.encode()).hexdigest()[:12]


def batch_host(ns: str, bridge: str, mac: str) -> str:
    """`ip -batch` lines for the host side: namespace, veth pair, bridge port."""
    veth = host_veth_name(ns)
    return (
        f"netns add {ns}\n"
        f"link add {veth} type veth peer name eth0 address {mac} netns {ns}\n"
        f"link set {veth} master {bridge} up\n"
    )


def batch_inside(address: IPv4Address, subnet: Subnet) -> str:
    """`ip -batch` lines run inside the namespace: address, links up, default route."""
    return (
        f"addr add {address}/{subnet.prefixlen} dev eth0\n"
        "link set lo up\n"
        "link set eth0 up\n"
        f"route add default via {subnet.gateway}\n"
    )


async def create(ns: str, *, bridge: str, address: IPv4Address, subnet: Subnet, mac: str) -> Netns:
    """Make the namespace and wire it to the bridge; on failure nothing is left behind."""
    try:
        await arun(["ip", "-batch", "-"], stdin=batch_host(ns, bridge, mac).encode(), timeout=10)
        await arun(
            ["ip", "-n", ns, "-batch", "-"],
            stdin=batch_inside(address, subnet).encode(),
            timeout=10,
        )
    except HostError:
        delete(ns)
        raise
    return Netns(ns, NETNS_DIR / ns, host_veth_name(ns), address, subnet.gateway, mac)


def delete(ns: str) -> None:
    """Unmount and remove the namespace file (idempotent); the kernel frees its veth pair."""
    path = NETNS_DIR / ns
    if _libc.umount2(str(path).encode(), MNT_DETACH) != 0:
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOENT):
            raise HostError(f"umount2({path}) failed: {os.strerror(code)}")
    path.unlink(missing_ok=True)
    veth = host_veth_name(ns)
    if Path(f"/sys/class/net/{veth}").exists():
        # Only when a half-made pair never reached the namespace.
        run(["ip", "link", "del", veth], check=False)


def exists(ns: str) -> bool:
    """Whether the namespace file exists."""
    return (NETNS_DIR / ns).exists()


def list_names(prefix: str) -> list[str]:
    """Our namespaces, by name prefix."""
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))
    except FileNotFoundError:
        return []


def configured(ns: str, address: IPv4Address) -> bool:
    """Cheap readiness probe: the namespace exists and its veth is up on a bridge."""
    del address  # assigned at creation; the namespace is never re-addressed behind our back
    veth = Path("/sys/class/net") / host_veth_name(ns)
    try:
        state = (veth / "operstate").read_text().strip()
    except OSError:
        return False
    return exists(ns) and state in ("up", "unknown") and (veth / "master").exists()
