"""The bridge firewall driver against the kernel's nftables (no containers needed)."""

from __future__ import annotations

import secrets
import subprocess
from ipaddress import IPv4Address
from typing import TYPE_CHECKING

import pytest

from quilt.domain.ipam import Subnet
from quilt.drivers.network.firewall import Firewall, Port

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.host


@pytest.fixture
def firewall() -> Iterator[Firewall]:
    """Rules for a made-up bridge name; both tables are removed afterwards."""
    made = Firewall(f"qtfw{secrets.token_hex(3)}", Subnet.parse("10.250.3.0/24"))
    try:
        yield made
    finally:
        made.uninstall()


def tables() -> str:
    """What `nft list tables` prints."""
    done = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True)
    return done.stdout


def test_install_holds_exactly_the_given_ports(firewall: Firewall) -> None:
    """Install replaces the sets with the given ports, grouping each tenant under one mark."""
    a, b = IPv4Address("10.250.3.2"), IPv4Address("10.250.3.3")
    firewall.install([Port("qva", a, "ten_1"), Port("qvb", b, "ten_2")], masquerade=True)
    firewall.install([Port("qva", a, "ten_1")], masquerade=True)
    held = firewall.elements()
    assert held["ports"] == ["qva"]
    assert held["group"] == [["qva", 1]]
    assert f"ip {firewall.table}" in tables()
    firewall.install([], masquerade=False)
    assert f"ip {firewall.table}" not in tables()


def test_admit_moves_and_forget_removes(firewall: Firewall) -> None:
    """Admitting again moves a port's address and group; forgetting leaves no element."""
    firewall.install([], masquerade=False)
    firewall.admit(Port("qvp", IPv4Address("10.250.3.9"), None))
    assert firewall.elements()["members"] == []
    firewall.admit(Port("qvp", IPv4Address("10.250.3.10"), "ten_1"))
    held = firewall.elements()
    assert held["addresses"] == [{"concat": ["qvp", "10.250.3.10"]}]
    assert held["members"] == [{"concat": ["qvp", 1]}]
    firewall.forget("qvp")
    assert all(not v for v in firewall.elements().values())


def test_uninstall_removes_both_tables(firewall: Firewall) -> None:
    """Uninstall leaves no table of this bridge, and may be called again."""
    firewall.install([], masquerade=True)
    firewall.uninstall()
    firewall.uninstall()
    assert firewall.table not in tables()
