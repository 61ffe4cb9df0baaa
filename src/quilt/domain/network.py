"""Network rules: which addresses and routes a container may be given, and whether egress is on.

Pure: decisions from values the caller reads off the host, no host access.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING

from quilt.domain.ipam import is_valid_cidr
from quilt.errors import BadRequest, Conflict

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from quilt.domain.ipam import Subnet


@dataclass(frozen=True)
class Egress:
    """Whether containers' traffic may leave the host, by which uplinks, and why not if not."""

    mode: str  # as configured: auto, nat or none
    enabled: bool
    uplinks: tuple[str, ...]
    reason: str | None = None  # why it is off
    hint: str | None = None  # what would turn it on

    @property
    def enable_forwarding(self) -> bool:
        """Whether Quilt itself turns forwarding on for the uplinks (only when told to)."""
        return self.enabled and self.mode == "nat"


def plan_egress(
    mode: str, uplinks: Collection[str], forwarding: Mapping[str, bool | None]
) -> Egress:
    """Decide egress from the mode, the uplinks and whether the host forwards from each.

    `auto` turns NAT on only when the host already forwards from every uplink: flipping a host
    setting is the operator's call, made with `nat` (or their own sysctl).
    """
    names = tuple(uplinks)
    if mode == "none":
        return Egress(
            mode, enabled=False, uplinks=names, reason="egress is off (QUILT_EGRESS=none)"
        )
    if not names:
        return Egress(
            mode,
            enabled=False,
            uplinks=names,
            reason="the host has no IPv4 default route",
            hint="set QUILT_UPLINK to the interface traffic should leave by",
        )
    missing = [n for n in names if forwarding.get(n) is None]
    if missing:
        return Egress(
            mode,
            enabled=False,
            uplinks=names,
            reason=f"uplink {', '.join(missing)} does not exist",
        )
    if mode == "nat":
        return Egress(mode, enabled=True, uplinks=names)
    off = [n for n in names if not forwarding.get(n)]
    if off:
        sysctls = " ".join(f"net.ipv4.conf.{n}.forwarding=1" for n in off)
        return Egress(
            mode,
            enabled=False,
            uplinks=names,
            reason=f"the host does not forward IPv4 from {', '.join(off)}",
            hint=f"run `sysctl -w {sysctls}` or start the server with QUILT_EGRESS=nat",
        )
    return Egress(mode, enabled=True, uplinks=names)


def check_destination(text: object, subnet: Subnet) -> IPv4Network:
    """A route destination: an IPv4 CIDR that is neither the default route nor the subnet."""
    if not isinstance(text, str) or not text:
        raise BadRequest(
            "destination must be an IPv4 network in CIDR form",
            details={"field": "destination", "received": text},
            hint='for example {"destination": "10.0.0.0/24"}',
        )
    if not is_valid_cidr(text):
        hint = 'for example {"destination": "10.0.0.0/24"}'
        with contextlib.suppress(ValueError):
            hint = f"did you mean {IPv4Network(text, strict=False)}?"
        raise BadRequest(
            f"{text!r} is not an IPv4 network in CIDR form with no host bits",
            details={"field": "destination", "received": text},
            hint=hint,
        )
    network = IPv4Network(text)
    if network.prefixlen == 0:
        raise BadRequest(
            "the default route is managed by Quilt",
            details={"field": "destination", "received": text},
            hint="POST /api/containers/<id>/network/setup restores it",
        )
    if network.overlaps(subnet.network):
        raise BadRequest(
            f"{network} overlaps the container subnet {subnet}, which is on-link already",
            details={"field": "destination", "received": text},
        )
    return network


def check_new_address(
    text: object, subnet: Subnet, holders: Mapping[IPv4Address, str], container_id: str
) -> IPv4Address:
    """An address a container may move to: in the subnet, a host address, not someone else's.

    `holders` maps every allocated address to its holder's id. Another holder's address is a
    409, as the contract asks.
    """
    try:
        address = IPv4Address(text) if isinstance(text, str) else None
    except ValueError:
        address = None
    if address is None:
        raise BadRequest(
            "ip_address must be an IPv4 address",
            details={"field": "ip_address", "received": text},
            hint=f"a free address in {subnet}",
        )
    if address not in subnet.network:
        raise BadRequest(
            f"{address} is outside the container subnet {subnet}",
            details={"field": "ip_address", "received": text},
        )
    reserved = {
        subnet.network.network_address: "the network address",
        subnet.gateway: "the gateway (the host's bridge)",
        subnet.broadcast: "the broadcast address",
    }
    if address in reserved:
        raise BadRequest(
            f"{address} is {reserved[address]}",
            details={"field": "ip_address", "received": text},
        )
    holder = holders.get(address)
    if holder is not None and holder != container_id:
        raise Conflict(
            f"{address} is taken by another container",
            details={"field": "ip_address", "received": text},
            hint="GET /api/network/allocations lists the addresses in use",
        )
    return address
