"""IP address management (pure): subnets, the lowest free address, stable MACs."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Collection


@dataclass(frozen=True)
class Subnet:
    """A container subnet; its first host address is the bridge's gateway."""

    network: IPv4Network

    @classmethod
    def parse(cls, cidr: str) -> Subnet:
        """Build from a CIDR string such as `10.203.0.0/16` (ValueError if malformed)."""
        network = IPv4Network(cidr, strict=False)
        if network.prefixlen > 29:  # noqa: PLR2004 - room for a gateway and containers
            raise ValueError(f"subnet {cidr} is too small: use /29 or larger")
        return cls(network)

    @property
    def gateway(self) -> IPv4Address:
        """The bridge's address."""
        return self.network.network_address + 1

    @property
    def prefixlen(self) -> int:
        """The prefix length."""
        return self.network.prefixlen


def is_valid_cidr(text: str) -> bool:
    """Whether `text` is an IPv4 CIDR."""
    try:
        IPv4Network(text, strict=False)
    except ValueError:
        return False
    return "/" in text


def next_free(subnet: Subnet, taken: Collection[IPv4Address]) -> IPv4Address | None:
    """The lowest host address that is neither the gateway, the broadcast nor taken."""
    first = int(subnet.gateway) + 1
    last = int(subnet.network.broadcast_address) - 1
    used = {int(a) for a in taken}
    for candidate in range(first, last + 1):
        if candidate not in used:
            return IPv4Address(candidate)
    return None


def mac_for(address: IPv4Address) -> str:
    """A stable, locally administered MAC derived from the address (02:42:a:b:c:d)."""
    return "02:42:" + ":".join(f"{b:02x}" for b in address.packed)
