"""IP address management (pure): subnets, the lowest free address, stable MACs."""

from __future__ import annotations

import time
from ipaddress import IPv4Address, IPv4Network

import pytest

from quilt.domain.ipam import Subnet, is_valid_cidr, mac_for, next_free


def test_subnet_from_cidr_has_its_first_host_as_gateway() -> None:
    """A subnet parsed from CIDR text knows its gateway, prefix length and broadcast."""
    subnet = Subnet.parse("10.203.0.0/16")
    assert subnet.network == IPv4Network("10.203.0.0/16")
    assert subnet.gateway == IPv4Address("10.203.0.1")
    assert subnet.prefixlen == 16
    assert subnet.broadcast == IPv4Address("10.203.255.255")
    assert str(subnet) == "10.203.0.0/16"


def test_subnets_are_frozen_values() -> None:
    """Two subnets parsed from the same text are equal, hashable and immutable."""
    one, two = Subnet.parse("10.9.0.0/24"), Subnet.parse("10.9.0.0/24")
    assert one == two
    assert len({one, two}) == 1
    with pytest.raises(AttributeError):
        one.network = IPv4Network("10.8.0.0/24")  # type: ignore[misc]


def test_next_free_skips_network_and_gateway() -> None:
    """With nothing taken, the first container gets the address after the gateway."""
    assert next_free(Subnet.parse("10.203.0.0/16"), set()) == IPv4Address("10.203.0.2")


def test_next_free_fills_the_lowest_gap() -> None:
    """A released address below others is handed out again before any higher one."""
    subnet = Subnet.parse("192.168.7.0/24")
    taken = {IPv4Address(f"192.168.7.{n}") for n in (2, 3, 5, 6)}
    assert next_free(subnet, taken) == IPv4Address("192.168.7.4")


def test_next_free_ignores_addresses_outside_the_subnet() -> None:
    """Addresses of another subnet in the taken set change nothing."""
    subnet = Subnet.parse("10.1.2.0/24")
    assert next_free(subnet, [IPv4Address("10.9.9.2")]) == IPv4Address("10.1.2.2")


def test_next_free_never_hands_out_the_broadcast() -> None:
    """When only the broadcast address is left, the subnet counts as full."""
    subnet = Subnet.parse("10.1.2.0/29")  # .0 network, .1 gateway, .2-.6 hosts, .7 broadcast
    taken = {IPv4Address(f"10.1.2.{n}") for n in range(2, 7)}
    assert next_free(subnet, taken) is None
    assert next_free(subnet, taken - {IPv4Address("10.1.2.6")}) == IPv4Address("10.1.2.6")


def test_smallest_subnet_holds_exactly_one_container() -> None:
    """A /30 has room for the gateway and one container, then it is exhausted."""
    subnet = Subnet.parse("10.1.2.4/30")
    first = next_free(subnet, ())
    assert first == IPv4Address("10.1.2.6")
    assert next_free(subnet, {first}) is None


def test_next_free_is_fast_with_ten_thousand_taken() -> None:
    """Finding the next address past 10,000 taken ones takes well under 50 ms."""
    subnet = Subnet.parse("10.203.0.0/16")
    taken = [IPv4Address(int(subnet.gateway) + n) for n in range(1, 10_001)]
    started = time.perf_counter()
    found = next_free(subnet, taken)
    elapsed = time.perf_counter() - started
    assert found == IPv4Address(int(subnet.gateway) + 10_001)
    assert elapsed < 0.05, f"next_free took {elapsed * 1000:.1f} ms"


def test_mac_is_stable_locally_administered_and_unicast() -> None:
    """The MAC of an address is always the same and has the local bit set, multicast clear."""
    mac = mac_for(IPv4Address("10.203.0.2"))
    assert mac == "02:42:0a:cb:00:02"
    assert mac_for(IPv4Address("10.203.0.2")) == mac
    first = int(mac.split(":")[0], 16)
    assert first & 0b10  # locally administered
    assert not first & 0b01  # unicast


def test_macs_of_distinct_addresses_differ() -> None:
    """Every address of a /16 gets its own MAC."""
    subnet = Subnet.parse("10.203.0.0/16")
    macs = {mac_for(address) for address in subnet.network.hosts()}
    assert len(macs) == subnet.network.num_addresses - 2


@pytest.mark.parametrize("text", ["10.203.0.0/16", "192.168.0.0/24", "10.0.0.0/8", "0.0.0.0/0"])
def test_valid_cidrs_are_accepted(text: str) -> None:
    """IPv4 networks written as address/prefix with no host bits are valid CIDRs."""
    assert is_valid_cidr(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "10.203.0.0",  # no prefix
        "10.203.0.0/",
        "10.203.0.1/16",  # host bits set
        "10.203.0.0/33",
        "10.203.0.0/255.255.0.0",  # a netmask, not a prefix length
        "10.203.0.0/+16",
        "10.203.0.0/١٦",  # non-ASCII digits
        "10.203.0/16",
        "010.203.0.0/16",  # leading zeros are ambiguous (octal?)
        "fd00::/64",  # IPv6
        " 10.203.0.0/16",
        "quilt",
    ],
)
def test_malformed_cidrs_are_rejected(text: str) -> None:
    """Anything but a plain IPv4 address/prefix with no host bits is not a valid CIDR."""
    assert not is_valid_cidr(text)
    with pytest.raises(ValueError, match="CIDR"):
        Subnet.parse(text)


def test_non_strings_are_not_cidrs() -> None:
    """Values that are not text are simply not CIDRs (no TypeError)."""
    assert not is_valid_cidr(None)
    assert not is_valid_cidr(IPv4Network("10.0.0.0/8"))


@pytest.mark.parametrize("text", ["10.1.2.0/31", "10.1.2.3/32"])
def test_subnets_without_room_for_a_container_are_refused(text: str) -> None:
    """A /31 or /32 cannot hold a gateway and a container, so it is refused with ValueError."""
    with pytest.raises(ValueError, match=r"too small|CIDR"):
        Subnet.parse(text)
    with pytest.raises(ValueError, match="too small"):
        Subnet(IPv4Network(text, strict=False))
