"""Per-container network namespaces: a named netns, a veth pair on the bridge, an address.

Owns /run/netns/<ns> and the veth pairs, made in-process over rtnetlink (no process spawned on
the create path). Must not touch the bridge itself, NAT or host-wide sysctls.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import hashlib
import json
import os
import re
import socket
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

from quilt.drivers.commands import arun
from quilt.drivers.network.bridge import ipv4_interface, link_attribute, link_is_up
from quilt.drivers.network.rtnetlink import (
    NLM_F_CREATE,
    NLM_F_EXCL,
    PEER_NAME,
    RTM_DELLINK,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWROUTE,
    Rtnetlink,
    address_request,
    default_route_request,
    errno_error,
    ifinfomsg,
    link_request,
    step,
    syscall,
    veth_request,
)
from quilt.errors import HostError

if TYPE_CHECKING:
    from collections.abc import Callable

    from quilt.domain.ipam import Subnet

_T = TypeVar("_T")

NETNS_DIR: Final = Path("/run/netns")
SYS_NET: Final = Path("/sys/class/net")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")

# Kernel ABI constants: linux/sched.h, linux/mount.h, linux/route.h.
CLONE_NEWNET: Final = 0x40000000
MS_BIND: Final = 0x1000
MS_REC: Final = 0x4000
MS_SHARED: Final = 1 << 20
MNT_DETACH: Final = 2
RTF_GATEWAY: Final = 0x2
LOOPBACK_INDEX: Final = 1  # the kernel always gives `lo` index 1 in a new namespace

_libc = ctypes.CDLL(None, use_errno=True)
_netns_dir_lock = threading.Lock()
_netns_dir_ready = threading.Event()


@dataclass(frozen=True)
class Netns:
    """A container's network namespace as made by `create`."""

    name: str
    path: Path
    host_veth: str
    address: IPv4Address
    gateway: IPv4Address
    mac: str


@dataclass(frozen=True)
class Interface:
    """One interface inside a namespace, as the kernel reports it."""

    name: str
    mac: str
    up: bool  # administratively up (IFF_UP)
    operstate: str  # UP, DOWN, UNKNOWN (lo)...
    addresses: tuple[IPv4Interface, ...]


@dataclass(frozen=True)
class Route:
    """One IPv4 route of a namespace's main table."""

    destination: str  # "default" or a CIDR
    gateway: IPv4Address | None
    device: str | None


@dataclass(frozen=True)
class NetnsReport:
    """What a namespace really holds, read from the kernel (for readiness and diagnostics)."""

    name: str
    interfaces: tuple[Interface, ...]
    routes: tuple[Route, ...]
    host_veth: str
    bridge: str | None  # the bridge the host end is attached to; None if detached or gone

    def interface(self, name: str) -> Interface | None:
        """The interface called `name`, if the namespace has one."""
        return next((i for i in self.interfaces if i.name == name), None)

    @property
    def eth0_up(self) -> bool:
        """Whether eth0 exists and is administratively up."""
        eth0 = self.interface(PEER_NAME)
        return eth0 is not None and eth0.up

    @property
    def eth0_address(self) -> IPv4Interface | None:
        """eth0's first IPv4 address with its prefix."""
        eth0 = self.interface(PEER_NAME)
        return eth0.addresses[0] if eth0 and eth0.addresses else None

    @property
    def default_gateway(self) -> IPv4Address | None:
        """The gateway of the default route, if there is one."""
        return next((r.gateway for r in self.routes if r.destination == "default"), None)


# -- pure helpers ------------------------------------------------------------------------------


def host_veth_name(ns: str) -> str:
    """The host end's name: `qv` + 12 hex digits of a hash of the namespace (15 chars at most)."""
    return "qv" + hashlib.sha256(ns.encode()).hexdigest()[:12]


def check_name(ns: str) -> None:
    """Refuse a namespace name that is not a plain file name (ValueError)."""
    if not _NAME.fullmatch(ns):
        raise ValueError(f"invalid network namespace name {ns!r}")


def mac_bytes(mac: str) -> bytes:
    """`02:42:0a:cb:00:02` as six bytes; ValueError unless it is a unicast MAC."""
    parts = mac.split(":")
    if len(parts) != 6 or not all(re.fullmatch(r"[0-9A-Fa-f]{2}", p) for p in parts):  # noqa: PLR2004
        raise ValueError(f"invalid MAC address {mac!r}")
    raw = bytes(int(p, 16) for p in parts)
    if raw[0] & 1:
        raise ValueError(f"MAC address {mac!r} is multicast; a container needs a unicast one")
    return raw


def parse_report(ns: str, shown: str, bridge: str | None) -> NetnsReport:
    """Build a report from what `ip -j -batch` printed for `addr show` then `route show`."""
    decoder, parts, position = json.JSONDecoder(), [], 0
    text = shown.strip()
    while position < len(text):  # `ip -j -batch` prints one JSON array per command
        part, position = decoder.raw_decode(text, position)
        parts.append(part)
        while position < len(text) and text[position].isspace():
            position += 1
    if len(parts) != 2:  # noqa: PLR2004
        raise ValueError(f"expected the output of two commands, got {len(parts)}")
    links, routes = parts
    interfaces = tuple(
        Interface(
            name=link["ifname"],
            mac=link.get("address", ""),
            up="UP" in link.get("flags", []),
            operstate=link.get("operstate", "UNKNOWN"),
            addresses=tuple(
                IPv4Interface(f"{a['local']}/{a['prefixlen']}")
                for a in link.get("addr_info", [])
                if a.get("family") == "inet"
            ),
        )
        for link in links
    )
    table = tuple(
        Route(
            destination=route["dst"],
            gateway=IPv4Address(route["gateway"]) if "gateway" in route else None,
            device=route.get("dev"),
        )
        for route in routes
    )
    return NetnsReport(ns, interfaces, table, host_veth_name(ns), bridge)


def _prepare_netns_dir() -> None:
    """Make /run/netns a shared mount point, as `ip netns add` does (once per process).

    Shared propagation means unmounting a namespace here also unmounts the copies that mount
    namespaces created since hold, so the kernel can free the namespace.
    """
    with _netns_dir_lock:
        if _netns_dir_ready.is_set():
            return
        NETNS_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        target = bytes(NETNS_DIR)
        if _libc.mount(b"none", target, b"none", MS_SHARED | MS_REC, None) != 0:
            if ctypes.get_errno() != errno.EINVAL:
                raise errno_error(f"mount --make-rshared {NETNS_DIR}")
            # EINVAL: not a mount point yet; bind it onto itself first.
            bind = _libc.mount(target, target, b"none", MS_BIND | MS_REC, None)
            syscall(bind, f"mount --rbind {NETNS_DIR} {NETNS_DIR}")
            shared = _libc.mount(b"none", target, b"none", MS_SHARED | MS_REC, None)
            syscall(shared, f"mount --make-rshared {NETNS_DIR}")
        _netns_dir_ready.set()


def _release(path: Path) -> None:
    """Unmount and remove a namespace file; missing or never mounted is fine."""
    if _libc.umount2(bytes(path), MNT_DETACH) != 0:
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOENT):
            raise errno_error(f"umount {path}")
    with step(f"remove {path}"):
        path.unlink(missing_ok=True)


def _delete_link(name: str) -> None:
    with Rtnetlink() as rtnl:
        rtnl.call((f"ip link del {name}", RTM_DELLINK, 0, link_request(name)), missing_ok=True)


def _peer_is_here(veth: str) -> bool:
    """Whether a veth's peer lives in this namespace (so no namespace teardown will free it)."""
    index, peer_index = link_attribute(veth, "ifindex"), link_attribute(veth, "iflink")
    if index is None or peer_index is None:
        return False
    try:
        peer = socket.if_indextoname(int(peer_index))
    except OSError:
        return False  # no such index here: the peer is in another namespace
    return peer != veth and link_attribute(peer, "iflink") == index


def _start_thread(work: Callable[[], _T], name: str) -> tuple[threading.Thread, Future[_T]]:
    """Run `work` on a new thread of its own.

    Namespace calls (unshare, setns) change only the calling thread, so they run on a thread
    that ends afterwards and never on the event loop's or a pooled one.
    """
    outcome: Future[_T] = Future()
    outcome.set_running_or_notify_cancel()  # so cancelling an awaiter cannot cancel it

    def body() -> None:
        try:
            outcome.set_result(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            outcome.set_exception(exc)

    thread = threading.Thread(target=body, name=name, daemon=True)
    thread.start()
    return thread, outcome


# -- create / delete ---------------------------------------------------------------------------


def _config_steps(
    ns: str, eth0: int, address: IPv4Address, subnet: Subnet
) -> list[tuple[str, int, int, bytes]]:
    """The requests that configure a namespace from inside, in the order they must apply."""
    new = NLM_F_CREATE | NLM_F_EXCL
    return [
        (f"ip -n {ns} link set lo up", RTM_NEWLINK, 0, ifinfomsg(LOOPBACK_INDEX, up=True)),
        (f"ip -n {ns} link set {PEER_NAME} up", RTM_NEWLINK, 0, ifinfomsg(eth0, up=True)),
        (
            f"ip -n {ns} addr add {address}/{subnet.prefixlen} dev {PEER_NAME}",
            RTM_NEWADDR,
            new,
            address_request(eth0, address, subnet.prefixlen),
        ),
        # Last: the gateway must already be on-link through eth0's address and carrier.
        (
            f"ip -n {ns} route add default via {subnet.gateway}",
            RTM_NEWROUTE,
            new,
            default_route_request(eth0, subnet.gateway),
        ),
    ]


def _make(ns: str, bridge: str, address: IPv4Address, subnet: Subnet, mac: bytes) -> None:
    """Make the namespace and its wiring; runs on a thread of its own, which it moves inside."""
    veth, path = host_veth_name(ns), NETNS_DIR / ns
    try:
        bridge_index = socket.if_nametoindex(bridge)
    except OSError as exc:
        raise HostError(f"cannot create network namespace {ns}: no bridge {bridge}") from exc
    with Rtnetlink() as host:  # opened before unshare, so it acts on the host's namespace
        _prepare_netns_dir()
        with step(f"create {path}"):  # O_EXCL: an existing namespace is refused, not reused
            os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0))
        made_veth = False
        try:
            if (SYS_NET / veth).exists():
                # Left by a namespace of the same name deleted moments ago: the kernel frees
                # that pair asynchronously (~25 ms later), so free the name now.
                what = f"ip link del {veth} (stale)"
                host.call((what, RTM_DELLINK, 0, link_request(veth)), missing_ok=True)
            syscall(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
            source = b"/proc/thread-self/ns/net"  # this thread's namespace, not the process's
            syscall(_libc.mount(source, bytes(path), b"none", MS_BIND, None), f"bind {path}")
            with Rtnetlink() as inside:
                with step(f"open {path}"):
                    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    what = f"ip link add {veth} master {bridge} up type veth peer {PEER_NAME} {ns}"
                    body = veth_request(veth, bridge_index, mac, fd)
                    host.call((what, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body))
                finally:
                    os.close(fd)
                made_veth = True
                with step(f"find {PEER_NAME} in {ns}"):
                    # By name, in this thread's namespace, which is now the new one.
                    eth0 = socket.if_nametoindex(PEER_NAME)
                inside.call(*_config_steps(ns, eth0, address, subnet))
        except BaseException as failure:
            # Undo in reverse. Deleting the veth now rather than leaving it to the namespace's
            # asynchronous teardown means a failed create leaves nothing, not even for a moment.
            try:
                if made_veth:
                    what = f"ip link del {veth}"
                    host.call((what, RTM_DELLINK, 0, link_request(veth)), missing_ok=True)
                _release(path)
            except HostError as undo:
                failure.add_note(f"undoing it failed too, so remove it by hand: {undo}")
            raise


async def create(ns: str, *, bridge: str, address: IPv4Address, subnet: Subnet, mac: str) -> Netns:
    """Make /run/netns/<ns> with eth0 (address, MAC, default route) wired to the bridge.

    On failure nothing is left behind and the HostError names the step that failed.
    """
    check_name(ns)
    raw_mac = mac_bytes(mac)
    thread, outcome = _start_thread(
        lambda: _make(ns, bridge, address, subnet, raw_mac), f"quilt-netns-{ns}"
    )
    try:
        await asyncio.wrap_future(outcome)
    except asyncio.CancelledError:
        # The kernel work takes milliseconds and cannot stop half-way. Wait for it without
        # awaiting (a cancelled scope would interrupt the await again), then undo it.
        thread.join()
        if outcome.exception() is None:
            delete(ns)
        raise
    return Netns(ns, NETNS_DIR / ns, host_veth_name(ns), address, subnet.gateway, mac.lower())


def delete(ns: str) -> None:
    """Unmount and remove the namespace file (idempotent); the kernel then frees its veth pair.

    The kernel frees the pair asynchronously (tens of ms later) once nothing else holds the
    namespace. The host end is deleted explicitly only when its peer is not in a namespace at
    all (a half-made pair), since then nothing would ever free it.
    """
    check_name(ns)
    _release(NETNS_DIR / ns)
    veth = host_veth_name(ns)
    if (SYS_NET / veth).exists() and _peer_is_here(veth):
        _delete_link(veth)


def exists(ns: str) -> bool:
    """Whether the namespace file exists."""
    check_name(ns)
    return (NETNS_DIR / ns).exists()


def list_names(prefix: str) -> list[str]:
    """Our namespaces (those whose name starts with `prefix`), sorted; for orphan cleanup."""
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))
    except FileNotFoundError:
        return []


# -- reading -----------------------------------------------------------------------------------


async def inspect(ns: str) -> NetnsReport:
    """Read the namespace's interfaces, addresses and routes from the kernel (one `ip` run)."""
    check_name(ns)
    if not exists(ns):
        raise HostError(f"network namespace {ns} does not exist ({NETNS_DIR / ns} is missing)")
    shown = await arun(
        ["ip", "-n", ns, "-j", "-batch", "-"], stdin=b"addr show\nroute show\n", timeout=10
    )
    master = SYS_NET / host_veth_name(ns) / "master"
    bridge = master.resolve().name if master.exists() else None
    try:
        return parse_report(ns, shown.text, bridge)
    except (ValueError, KeyError, TypeError) as exc:
        raise HostError(f"cannot read `ip -n {ns} -j -batch` output: {exc}") from exc


def _inside_configured(path: Path, address: IPv4Address) -> bool:
    """Runs on a thread of its own, which it moves into the namespace to look."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            return False
    finally:
        os.close(fd)
    found = ipv4_interface(PEER_NAME)
    if found is None or found.ip != address:
        return False
    # /proc/thread-self/net shows this thread's namespace: columns Iface, Destination, Gateway,
    # Flags (hex, little-endian addresses).
    try:
        table = Path("/proc/thread-self/net/route").read_text().splitlines()[1:]
    except OSError:
        return False
    return any(
        row[0] == PEER_NAME and row[1] == "00000000" and int(row[3], 16) & RTF_GATEWAY
        for row in (line.split() for line in table)
        if len(row) > 3  # noqa: PLR2004
    )


def configured(ns: str, address: IPv4Address) -> bool:
    """Cheap readiness probe: whether the namespace is wired and addressed as made.

    The namespace file exists, its host veth is up with carrier (so eth0 is up too) on a bridge,
    and eth0 holds `address` with a default route. Spawns no process (~0.3 ms): sysfs, then a
    short-lived thread that joins the namespace and asks with ioctls and /proc.
    """
    check_name(ns)
    path, veth = NETNS_DIR / ns, host_veth_name(ns)
    if not path.exists() or not link_is_up(veth) or link_attribute(veth, "carrier") != "1":
        # Not `operstate`: the kernel updates it from a work queue, so a pair made a moment ago
        # can still read "unknown"; IFF_UP and carrier are set synchronously.
        return False
    if not (SYS_NET / veth / "master").exists():
        return False
    thread, outcome = _start_thread(lambda: _inside_configured(path, address), "quilt-netns-probe")
    thread.join()
    return outcome.result()
