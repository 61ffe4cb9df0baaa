"""IP address management: container subnets, the lowest free address, stable MAC addresses.

Pure (standard library only): it decides addresses, it never assigns them to an interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Collection

# A subnet needs a network address, the gateway, at least one container and a broadcast.
MAX_PREFIXLEN: Final = 30


@dataclass(frozen=True)
class Subnet:
    """A container subnet; its first host address is the gateway (the bridge's address)."""

    network: IPv4Network

    def __post_init__(self) -> None:
        if self.network.prefixlen > MAX_PREFIXLEN:
            raise ValueError(
                f"subnet {self.network} is too small: use /{MAX_PREFIXLEN} or larger "
                "(it needs a gateway and at least one container)"
            )

    @classmethod
    def parse(cls, cidr: str) -> Subnet:
        """Build from a CIDR string such as `10.203.0.0/16`; ValueError says what is wrong."""
        if not is_valid_cidr(cidr):
            raise ValueError(
                f"{cidr!r} is not an IPv4 subnet in CIDR form with no host bits, "
                "such as 10.203.0.0/16"
            )
        return cls(IPv4Network(cidr))

    @property
    def gateway(self) -> IPv4Address:
        """The first host address, which the bridge holds."""
        return self.network.network_address + 1

    @property
    def prefixlen(self) -> int:
        """The prefix length, as in `/16`."""
        return self.network.prefixlen

    @property
    def broadcast(self) -> IPv4Address:
        """The last address of the subnet, never given to a container."""
        return self.network.broadcast_address

    def __str__(self) -> str:
        return str(self.network)


def is_valid_cidr(text: object) -> bool:
    """Whether `text` is an IPv4 network in CIDR form (`a.b.c.d/n`) with no host bits set."""
    if not isinstance(text, str):
        return False
    address, slash, prefix = text.partition("/")
    # `ipaddress` also takes a bare address (as /32) and a dotted netmask; neither is CIDR.
    if not slash or not prefix.isascii() or not prefix.isdigit():
        return False
    try:
        IPv4Network(f"{address}/{prefix}")
    except ValueError:
        return False
    return True


def next_free(subnet: Subnet, taken: Collection[IPv4Address]) -> IPv4Address | None:
    """The lowest host address that is not the gateway, the broadcast or taken; None if full."""
    first = int(subnet.gateway) + 1
    last = int(subnet.broadcast) - 1
    # One pass to a set of ints, then a walk from the bottom: O(len(taken)) in all, and
    # addresses outside the subnet simply never match.
    used = {int(address) for address in taken}
    for candidate in range(first, last + 1):
        if candidate not in used:
            return IPv4Address(candidate)
    return None


def mac_for(address: IPv4Address) -> str:
    """A stable MAC for an address: `02:42` (locally administered, unicast) + its four bytes."""
    return "02:42:" + ":".join(f"{byte:02x}" for byte in address.packed)
