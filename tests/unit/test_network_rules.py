"""Network rules: egress decisions, route destinations and new addresses (pure)."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from quilt.domain.ipam import Subnet
from quilt.domain.network import check_destination, check_new_address, plan_egress
from quilt.errors import BadRequest, Conflict

SUBNET = Subnet.parse("10.203.0.0/24")


def test_auto_egress_follows_the_hosts_forwarding() -> None:
    """Mode auto turns NAT on only where the host already forwards, and says how to turn it on."""
    on = plan_egress("auto", ["eth0"], {"eth0": True})
    assert on.enabled
    assert not on.enable_forwarding
    off = plan_egress("auto", ["eth0"], {"eth0": False})
    assert not off.enabled
    assert off.hint is not None
    assert "net.ipv4.conf.eth0.forwarding=1" in off.hint


def test_nat_egress_enables_forwarding_itself() -> None:
    """Mode nat is on whatever the host forwards, and Quilt turns forwarding on."""
    plan = plan_egress("nat", ["eth0"], {"eth0": False})
    assert plan.enabled
    assert plan.enable_forwarding


@pytest.mark.parametrize(
    ("mode", "uplinks", "forwarding", "reason"),
    [
        ("none", ["eth0"], {"eth0": True}, "QUILT_EGRESS=none"),
        ("auto", [], {}, "no IPv4 default route"),
        ("nat", ["gone0"], {"gone0": None}, "gone0 does not exist"),
    ],
)
def test_egress_off_says_why(
    mode: str, uplinks: list[str], forwarding: dict[str, bool | None], reason: str
) -> None:
    """Egress that is off carries the reason."""
    plan = plan_egress(mode, uplinks, forwarding)
    assert not plan.enabled
    assert plan.reason is not None
    assert reason in plan.reason


def test_route_destinations_are_strict_cidrs() -> None:
    """A destination is a CIDR without host bits, not the default route, not the subnet."""
    assert str(check_destination("192.168.0.0/16", SUBNET)) == "192.168.0.0/16"
    with pytest.raises(BadRequest) as caught:
        check_destination("192.168.0.1/16", SUBNET)
    assert caught.value.hint == "did you mean 192.168.0.0/16?"
    for bad in ("0.0.0.0/0", "10.203.0.0/25", "10.0.0.0/8", "", None, "fe80::/64"):
        with pytest.raises(BadRequest):
            check_destination(bad, SUBNET)


def test_new_address_must_be_a_free_host_address() -> None:
    """Only a host address of the subnet that nobody else holds is accepted."""
    holders = {IPv4Address("10.203.0.2"): "ctr_a", IPv4Address("10.203.0.3"): "ctr_b"}
    assert check_new_address("10.203.0.9", SUBNET, holders, "ctr_a") == IPv4Address("10.203.0.9")
    assert check_new_address("10.203.0.2", SUBNET, holders, "ctr_a") == IPv4Address("10.203.0.2")
    with pytest.raises(Conflict):
        check_new_address("10.203.0.3", SUBNET, holders, "ctr_a")
    for bad in ("10.203.0.0", "10.203.0.1", "10.203.0.255", "10.204.0.9", "x", 5):
        with pytest.raises(BadRequest):
            check_new_address(bad, SUBNET, holders, "ctr_a")
