"""rtnetlink requests and the small kernel-call helpers the network drivers share.

A request is built as bytes by a pure function (so it can be tested without a kernel) and sent
with `Rtnetlink.call`, which batches several into one write and reads every acknowledgement.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import socket
import struct
from typing import TYPE_CHECKING, Final, Self

from quilt.errors import HostError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from ipaddress import IPv4Address
    from types import TracebackType

PEER_NAME: Final = "eth0"  # a container's end of its veth pair
NETLINK_TIMEOUT: Final = 5.0

# Kernel ABI constants: linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/veth.h,
# linux/if_addr.h.
SOL_NETLINK: Final = 270
NETLINK_EXT_ACK: Final = 11
NLMSG_ERROR: Final = 2
NLM_F_REQUEST: Final = 0x1
NLM_F_ACK: Final = 0x4
NLM_F_CAPPED: Final = 0x100
NLM_F_ACK_TLVS: Final = 0x200
NLM_F_EXCL: Final = 0x200
NLM_F_CREATE: Final = 0x400
NLMSGERR_ATTR_MSG: Final = 1
NLA_F_NESTED: Final = 1 << 15
RTM_NEWLINK: Final = 16
RTM_DELLINK: Final = 17
RTM_NEWADDR: Final = 20
RTM_NEWROUTE: Final = 24
IFLA_ADDRESS: Final = 1
IFLA_IFNAME: Final = 3
IFLA_MASTER: Final = 10
IFLA_LINKINFO: Final = 18
IFLA_NET_NS_FD: Final = 28
IFLA_INFO_KIND: Final = 1
IFLA_INFO_DATA: Final = 2
VETH_INFO_PEER: Final = 1
IFA_ADDRESS: Final = 1
IFA_LOCAL: Final = 2
RTA_OIF: Final = 4
RTA_GATEWAY: Final = 5
RT_TABLE_MAIN: Final = 254
RTPROT_BOOT: Final = 3
RTN_UNICAST: Final = 1
IFF_UP: Final = 0x1
_HEADER: Final = struct.Struct("=IHHII")  # struct nlmsghdr


def _attr(kind: int, payload: bytes) -> bytes:
    size = 4 + len(payload)
    return struct.pack("=HH", size, kind) + payload + b"\0" * (-size % 4)


def ifinfomsg(index: int = 0, *, up: bool = False) -> bytes:
    """The ifinfomsg struct; `change` names the flags being set, so other flags are left alone."""
    flags = IFF_UP if up else 0
    return struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, flags, flags)


def link_request(name: str) -> bytes:
    """RTM_NEWLINK/RTM_DELLINK body naming an interface by name."""
    return ifinfomsg() + _attr(IFLA_IFNAME, name.encode() + b"\0")


def veth_request(veth: str, bridge_index: int, peer_mac: bytes, netns_fd: int) -> bytes:
    """RTM_NEWLINK body: a veth `veth` (up, on the bridge) whose peer eth0 starts in netns_fd."""
    peer = (
        ifinfomsg()
        + _attr(IFLA_IFNAME, PEER_NAME.encode() + b"\0")
        + _attr(IFLA_ADDRESS, peer_mac)
        + _attr(IFLA_NET_NS_FD, struct.pack("=I", netns_fd))
    )
    info = _attr(IFLA_INFO_KIND, b"veth\0") + _attr(
        IFLA_INFO_DATA | NLA_F_NESTED, _attr(VETH_INFO_PEER | NLA_F_NESTED, peer)
    )
    return (
        ifinfomsg(up=True)
        + _attr(IFLA_IFNAME, veth.encode() + b"\0")
        + _attr(IFLA_MASTER, struct.pack("=I", bridge_index))
        + _attr(IFLA_LINKINFO | NLA_F_NESTED, info)
    )


def address_request(index: int, address: IPv4Address, prefixlen: int) -> bytes:
    """RTM_NEWADDR body: `address/prefixlen` on interface `index`."""
    head = struct.pack("=BBBBI", socket.AF_INET, prefixlen, 0, 0, index)
    return head + _attr(IFA_LOCAL, address.packed) + _attr(IFA_ADDRESS, address.packed)


def default_route_request(index: int, gateway: IPv4Address) -> bytes:
    """RTM_NEWROUTE body: the default route via `gateway` out of interface `index`."""
    head = struct.pack(
        "=BBBBBBBBI", socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, 0, RTN_UNICAST, 0
    )
    return head + _attr(RTA_GATEWAY, gateway.packed) + _attr(RTA_OIF, struct.pack("=I", index))


class Rtnetlink:
    """An rtnetlink socket; it acts on the network namespace of the thread that opened it."""

    def __init__(self) -> None:
        with step("open an rtnetlink socket"):
            self._sock = socket.socket(
                socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE
            )
        try:
            self._sock.settimeout(NETLINK_TIMEOUT)
            # Extended acks: the kernel says *why* a request failed ("Nexthop has invalid
            # gateway"), which goes into the error message.
            with contextlib.suppress(OSError):
                self._sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
            with step("bind an rtnetlink socket"):
                self._sock.bind((0, 0))
        except BaseException:
            self._sock.close()
            raise
        self._seq = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._sock.close()

    def call(self, *steps: tuple[str, int, int, bytes], missing_ok: bool = False) -> None:
        """Send every (step, type, flags, body) in one write and wait for every ack.

        Raises HostError naming the first step that failed; with `missing_ok`, "no such
        device" counts as done.
        """
        sent: dict[int, str] = {}
        batch = b""
        for step, kind, flags, body in steps:
            self._seq += 1
            sent[self._seq] = step
            header = (
                _HEADER.size + len(body),
                kind,
                flags | NLM_F_REQUEST | NLM_F_ACK,
                self._seq,
                0,
            )
            batch += _HEADER.pack(*header) + body
        try:
            self._sock.send(batch)
            failures = self._acks(set(sent))
        except OSError as exc:
            raise HostError(f"rtnetlink `{'; '.join(sent.values())}` failed: {exc}") from exc
        for seq, (code, why) in sorted(failures.items()):
            if missing_ok and code == errno.ENODEV:
                continue
            reason = f"{os.strerror(code)} ({errno.errorcode.get(code, code)})"
            raise HostError(f"rtnetlink `{sent[seq]}` failed: {reason}{f': {why}' if why else ''}")

    def _acks(self, pending: set[int]) -> dict[int, tuple[int, str]]:
        """Read until every request is acknowledged; return the failed ones' errno and reason."""
        failures: dict[int, tuple[int, str]] = {}
        while pending:
            data = self._sock.recv(65536)
            offset = 0
            while offset + _HEADER.size <= len(data):
                size, kind, flags, seq, _ = _HEADER.unpack_from(data, offset)
                if kind == NLMSG_ERROR and seq in pending:
                    pending.discard(seq)
                    (code,) = struct.unpack_from("=i", data, offset + _HEADER.size)
                    if code:
                        failures[seq] = (-code, ack_message(data[offset : offset + size], flags))
                offset += max((size + 3) & ~3, _HEADER.size)
        return failures


def ack_message(message: bytes, flags: int) -> str:
    """The human reason an extended ack carries (NLMSGERR_ATTR_MSG), if any."""
    if not flags & NLM_F_ACK_TLVS:
        return ""
    # nlmsghdr, then the error code, then the request's header (and body unless capped).
    echoed = _HEADER.size if flags & NLM_F_CAPPED else _HEADER.unpack_from(message, 20)[0]
    offset = 20 + ((echoed + 3) & ~3)
    while offset + 4 <= len(message):
        size, kind = struct.unpack_from("=HH", message, offset)
        if size < 4:  # noqa: PLR2004 - a malformed attribute ends the walk
            break
        if kind & 0x3FFF == NLMSGERR_ATTR_MSG:
            return message[offset + 4 : offset + size].rstrip(b"\0").decode(errors="replace")
        offset += (size + 3) & ~3
    return ""


def errno_error(what: str) -> HostError:
    """A HostError naming the syscall that just failed and its errno."""
    code = ctypes.get_errno()
    return HostError(f"{what} failed: {os.strerror(code)} ({errno.errorcode.get(code, code)})")


def syscall(result: int, what: str) -> None:
    """Raise a HostError naming `what` unless a libc call returned 0."""
    if result != 0:
        raise errno_error(what)


@contextlib.contextmanager
def step(what: str) -> Iterator[None]:
    """Turn an OSError into a HostError that names the step."""
    try:
        yield
    except OSError as exc:
        raise HostError(f"{what} failed: {exc.strerror or exc}") from exc
