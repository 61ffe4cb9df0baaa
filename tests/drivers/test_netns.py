"""Container networking for real: a test bridge, namespaces with veth pairs, pings between them.

Every test uses its own bridge and a private /24 used on that bridge only; traffic never leaves
it. A fixture deletes every namespace and the bridge a test made, even when the test fails.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest

from helpers import free_subnet, ip_json
from quilt.domain.ipam import Subnet, mac_for
from quilt.drivers.network import bridge, netns
from quilt.errors import HostError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

host = pytest.mark.host


def veths() -> list[str]:
    """Names of every veth on the host side."""
    return [str(link["ifname"]) for link in ip_json("link", "show", "type", "veth")]


def netns_list() -> list[str]:
    """What `ip netns list` shows."""
    return [str(n["name"]) for n in ip_json("netns", "list")]


def eventually(check: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll `check` until it holds or `timeout` seconds pass (the kernel frees veths async)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def ip(*argv: str) -> None:
    """Run `ip ARGV`, failing the test if it fails (to disturb what a test made)."""
    subprocess.run(["ip", *argv], capture_output=True, check=True)


def ping(ns: str, address: IPv4Address) -> subprocess.CompletedProcess[str]:
    """Send one ICMP echo from inside `ns` (busybox ping where iputils is not installed)."""
    tool = ["ping"] if shutil.which("ping") else ["busybox", "ping"]
    argv = ["ip", "netns", "exec", ns, *tool, "-c1", "-W1", str(address)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)


@dataclass
class TestNet:
    """A bridge and subnet private to one test, and the namespaces it made on them."""

    __test__ = False  # a helper, not a test class

    bridge: str
    subnet: Subnet
    made: list[str] = field(default_factory=list)

    def name(self) -> str:
        """A fresh namespace name, remembered for clean-up."""
        ns = f"qtns-{self.bridge}-{len(self.made)}"
        self.made.append(ns)
        return ns

    def address(self, n: int) -> IPv4Address:
        """The n-th container address (n from 1) of the subnet."""
        return IPv4Address(int(self.subnet.gateway) + n)

    async def create(self, n: int) -> netns.Netns:
        """Create a namespace holding the n-th address on the test bridge."""
        address = self.address(n)
        return await netns.create(
            self.name(),
            bridge=self.bridge,
            address=address,
            subnet=self.subnet,
            mac=mac_for(address),
        )


def free_test_subnet() -> Subnet:
    """A random /24 in 10.251.0.0-10.254.255.0 that overlaps nothing the host routes."""
    return Subnet(free_subnet(range(251, 255)))


@pytest.fixture
def net() -> Iterator[TestNet]:
    """A fresh test bridge with its subnet; everything made on it is deleted afterwards."""
    made = TestNet(bridge="qt" + secrets.token_hex(4), subnet=free_test_subnet())
    failures: list[HostError] = []
    try:
        bridge.ensure_bridge(made.bridge, made.subnet)
        yield made
    finally:
        for ns in made.made:  # every one is attempted even if another fails
            try:
                netns.delete(ns)
            except HostError as exc:
                failures.append(exc)
        bridge.delete_bridge(made.bridge)
    assert not failures
    ours = {netns.host_veth_name(ns) for ns in made.made}
    assert eventually(lambda: not ours & set(veths())), "veths left behind"
    assert not set(made.made) & set(netns_list())
    assert not bridge.bridge_state(made.bridge).exists


# -- pure helpers --------------------------------------------------------------------------


def test_host_veth_names_are_short_stable_and_distinct() -> None:
    """Host veth names fit the kernel's 15 characters, never change and differ per namespace."""
    names = [netns.host_veth_name(f"q1be9-{n:016x}") for n in range(1000)]
    assert all(len(n) <= 15 and n.startswith("qv") for n in names)
    assert len(set(names)) == len(names)
    assert netns.host_veth_name("q1be9-0") == netns.host_veth_name("q1be9-0")


@pytest.mark.parametrize("name", ["", "../etc", "a/b", ".hidden", "-n", "x" * 256, "ns name"])
def test_unsafe_namespace_names_are_refused(name: str) -> None:
    """A name that is not a plain file name never reaches the file system or the kernel."""
    with pytest.raises(ValueError, match="namespace name"):
        netns.check_name(name)
    with pytest.raises(ValueError, match="namespace name"):
        netns.delete(name)


@pytest.mark.parametrize("mac", ["02:42:0a:cb:00", "02:42:0a:cb:00:0g", "0242.0acb.0002", ""])
def test_malformed_macs_are_refused(mac: str) -> None:
    """Only six colon-separated hex octets make a MAC."""
    with pytest.raises(ValueError, match="invalid MAC"):
        netns.mac_bytes(mac)


def test_multicast_macs_are_refused() -> None:
    """An interface cannot take a multicast MAC, so it is refused before anything is made."""
    assert netns.mac_bytes("02:42:0A:CB:00:02") == bytes.fromhex("02420acb0002")
    with pytest.raises(ValueError, match="multicast"):
        netns.mac_bytes("03:42:0a:cb:00:02")


def test_report_is_parsed_from_ip_json() -> None:
    """`ip -j` output for addresses and routes becomes interfaces, routes and the eth0 summary."""
    shown = (
        '[{"ifname":"lo","flags":["LOOPBACK","UP"],"operstate":"UNKNOWN",'
        '"address":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1",'
        '"prefixlen":8}]},{"ifname":"eth0","flags":["BROADCAST","UP"],"operstate":"UP",'
        '"address":"02:42:0a:cb:00:02","addr_info":[{"family":"inet","local":"10.203.0.2",'
        '"prefixlen":16},{"family":"inet6","local":"fe80::42","prefixlen":64}]}]\n'
        '[{"dst":"default","gateway":"10.203.0.1","dev":"eth0"},'
        '{"dst":"10.203.0.0/16","dev":"eth0","prefsrc":"10.203.0.2"}]\n'
    )
    report = netns.parse_report("q-x", shown, "quilt0")
    assert [i.name for i in report.interfaces] == ["lo", "eth0"]
    assert report.eth0_up
    assert report.eth0_address == IPv4Interface("10.203.0.2/16")
    assert report.default_gateway == IPv4Address("10.203.0.1")
    assert report.interface("eth0") is not None
    assert report.interface("eth0").mac == "02:42:0a:cb:00:02"  # type: ignore[union-attr]
    assert report.routes[1] == netns.Route("10.203.0.0/16", None, "eth0")
    assert report.bridge == "quilt0"
    with pytest.raises(ValueError, match="two commands"):
        netns.parse_report("q-x", "[]\n", None)


# -- the bridge ----------------------------------------------------------------------------


@host
def test_bridge_is_up_with_the_gateway_address_and_a_pinned_mac(net: TestNet) -> None:
    """ensure_bridge leaves an up bridge holding gateway/prefix and a MAC derived from it."""
    state = bridge.bridge_state(net.bridge)
    assert state.exists
    assert state.up
    assert state.addresses == [f"{net.subnet.gateway}/{net.subnet.prefixlen}"]
    mac = Path(f"/sys/class/net/{net.bridge}/address").read_text().strip()
    assert mac == mac_for(net.subnet.gateway)


@host
def test_ensure_bridge_on_a_ready_bridge_runs_no_command(
    net: TestNet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ensuring a bridge that is already right only reads the kernel's state: no `ip` run."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"ran a command: {args}")

    monkeypatch.setattr(bridge, "run", refuse)
    bridge.ensure_bridge(net.bridge, net.subnet)
    monkeypatch.undo()
    assert bridge.bridge_state(net.bridge).addresses == [
        f"{net.subnet.gateway}/{net.subnet.prefixlen}"
    ]


@host
def test_ensure_bridge_repairs_a_bridge_that_is_down_and_unaddressed(net: TestNet) -> None:
    """A bridge someone brought down and stripped of its address is restored by ensure_bridge."""
    ip("link", "set", net.bridge, "down")
    ip("addr", "flush", "dev", net.bridge)
    assert bridge.bridge_state(net.bridge) == bridge.BridgeState(exists=True, up=False)
    bridge.ensure_bridge(net.bridge, net.subnet)
    state = bridge.bridge_state(net.bridge)
    assert state.up
    assert state.addresses == [f"{net.subnet.gateway}/{net.subnet.prefixlen}"]


@host
def test_delete_bridge_is_idempotent(net: TestNet) -> None:
    """Deleting the bridge removes it, and deleting it again is not an error."""
    bridge.delete_bridge(net.bridge)
    assert bridge.bridge_state(net.bridge) == bridge.BridgeState(exists=False, up=False)
    bridge.delete_bridge(net.bridge)
    assert not Path(f"/sys/class/net/{net.bridge}").exists()


# -- namespaces ----------------------------------------------------------------------------


@host
@pytest.mark.anyio
async def test_two_namespaces_reach_each_other_and_the_gateway(net: TestNet) -> None:
    """Two namespaces on the bridge answer each other's pings and reach the gateway."""
    one, two = await net.create(1), await net.create(2)
    assert one.path == Path("/run/netns") / one.name
    assert one.gateway == net.subnet.gateway
    assert {one.name, two.name} <= set(netns_list())
    for made in (one, two):
        assert len(made.host_veth) <= 15
        master = Path(f"/sys/class/net/{made.host_veth}/master").resolve().name
        assert master == net.bridge
    for source, target in [(one, two), (two, one), (one, one), (two, None)]:
        address = target.address if target else net.subnet.gateway
        answer = ping(source.name, address)
        assert answer.returncode == 0, answer.stdout + answer.stderr
        assert "1 packets received" in answer.stdout or "1 received" in answer.stdout


@host
@pytest.mark.anyio
async def test_create_spawns_no_process(net: TestNet, monkeypatch: pytest.MonkeyPatch) -> None:
    """Creating a namespace is done in-process over netlink: no child process is started."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"spawned a process: {args}")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    monkeypatch.setattr(asyncio, "create_subprocess_exec", refuse)
    made = await net.create(1)
    monkeypatch.undo()
    assert netns.configured(made.name, made.address)


@host
@pytest.mark.anyio
async def test_inspect_reports_what_the_kernel_holds(net: TestNet) -> None:
    """Inspect reads eth0's address, MAC and state, lo, the default route and the bridge."""
    made = await net.create(3)
    report = await netns.inspect(made.name)
    assert report.eth0_up
    assert report.eth0_address == IPv4Interface(f"{made.address}/{net.subnet.prefixlen}")
    assert report.default_gateway == net.subnet.gateway
    eth0, lo = report.interface("eth0"), report.interface("lo")
    assert eth0 is not None
    assert eth0.mac == mac_for(made.address) == made.mac
    assert eth0.operstate == "UP"
    assert lo is not None
    assert lo.up
    assert report.host_veth == made.host_veth
    assert report.bridge == net.bridge
    assert netns.Route(str(net.subnet), None, "eth0") in report.routes


@host
@pytest.mark.anyio
async def test_inspect_of_a_missing_namespace_says_so(net: TestNet) -> None:
    """Inspecting a namespace that does not exist raises HostError naming it."""
    with pytest.raises(HostError, match="qtns-none does not exist"):
        await netns.inspect("qtns-none")


@host
@pytest.mark.anyio
async def test_configured_tracks_the_real_namespace(net: TestNet) -> None:
    """The probe holds for the address the namespace has, not another, and not once deleted."""
    made = await net.create(4)
    assert netns.configured(made.name, made.address)
    assert not netns.configured(made.name, net.address(5))
    ip("-n", made.name, "route", "del", "default")
    assert not netns.configured(made.name, made.address)
    netns.delete(made.name)
    assert not netns.configured(made.name, made.address)


@host
@pytest.mark.anyio
async def test_configured_is_false_when_the_host_end_is_down(net: TestNet) -> None:
    """A namespace whose host veth is down is not network-configured."""
    made = await net.create(1)
    ip("link", "set", made.host_veth, "down")
    assert not netns.configured(made.name, made.address)


@host
@pytest.mark.anyio
async def test_delete_is_idempotent_and_leaves_no_veth_or_netns(net: TestNet) -> None:
    """Deleting twice is fine; the netns goes at once, its veth soon after, its address is dead."""
    one, two = await net.create(1), await net.create(2)
    started = time.perf_counter()
    netns.delete(one.name)
    elapsed = time.perf_counter() - started
    netns.delete(one.name)
    assert not netns.exists(one.name)
    assert one.name not in netns_list()
    assert eventually(lambda: one.host_veth not in veths())
    assert elapsed < 0.02, f"delete took {elapsed * 1000:.1f} ms"
    assert ping(two.name, one.address).returncode != 0
    assert netns.exists(two.name)


@host
@pytest.mark.anyio
async def test_bridge_is_unused_soon_after_its_last_namespace_goes(net: TestNet) -> None:
    """Once every namespace is deleted, the bridge's ports drain within a second."""
    made = await net.create(1)
    assert bridge.ports(net.bridge) == [made.host_veth]
    assert not bridge.wait_until_unused(net.bridge, timeout=0.05)
    netns.delete(made.name)
    assert bridge.wait_until_unused(net.bridge, timeout=1.0)
    assert bridge.ports(net.bridge) == []
    assert bridge.ports("qtmissing0") == []


@host
@pytest.mark.anyio
async def test_missing_bridge_fails_and_leaves_nothing(net: TestNet) -> None:
    """Creating on a bridge that does not exist raises HostError naming it and makes nothing."""
    ns = net.name()
    before = set(veths())
    with pytest.raises(HostError, match="no bridge qtmissing0"):
        await netns.create(
            ns,
            bridge="qtmissing0",
            address=net.address(1),
            subnet=net.subnet,
            mac=mac_for(net.address(1)),
        )
    assert not netns.exists(ns)
    assert ns not in netns_list()
    assert set(veths()) <= before  # nothing new (an earlier test's pair may have gone since)


@host
@pytest.mark.anyio
async def test_failure_midway_undoes_the_namespace_and_veth(net: TestNet) -> None:
    """When the last step (the default route) fails, the namespace and veth are already gone."""
    ns = net.name()
    stranger = IPv4Address("10.250.0.2")  # outside the subnet: the gateway is not on-link
    before = set(veths())
    with pytest.raises(HostError, match="route add default") as raised:
        await netns.create(
            ns, bridge=net.bridge, address=stranger, subnet=net.subnet, mac=mac_for(stranger)
        )
    assert "unreachable" in str(raised.value).lower()
    assert not Path(f"/run/netns/{ns}").exists()
    assert ns not in netns_list()
    assert set(veths()) <= before  # deleted before create returned, not left to the kernel
    assert not Path(f"/sys/class/net/{netns.host_veth_name(ns)}").exists()


@host
@pytest.mark.anyio
async def test_existing_namespace_is_refused_and_left_working(net: TestNet) -> None:
    """Creating a namespace that exists fails without touching the one already there."""
    made = await net.create(1)
    with pytest.raises(HostError, match="File exists"):
        await netns.create(
            made.name,
            bridge=net.bridge,
            address=net.address(2),
            subnet=net.subnet,
            mac=mac_for(net.address(2)),
        )
    assert netns.configured(made.name, made.address)
    assert ping(made.name, net.subnet.gateway).returncode == 0


@host
@pytest.mark.anyio
async def test_namespace_can_be_made_again_right_after_delete(net: TestNet) -> None:
    """Re-creating a name at once works although the kernel has not yet freed the old veth."""
    made = await net.create(1)
    netns.delete(made.name)
    again = await netns.create(
        made.name,
        bridge=net.bridge,
        address=made.address,
        subnet=net.subnet,
        mac=made.mac,
    )
    assert netns.configured(again.name, again.address)
    assert ping(again.name, net.subnet.gateway).returncode == 0


@host
@pytest.mark.anyio
async def test_cancelled_create_leaves_nothing(net: TestNet) -> None:
    """A create cancelled while the kernel works is undone once that work finishes."""
    ns = net.name()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await netns.create(
            ns,
            bridge=net.bridge,
            address=net.address(1),
            subnet=net.subnet,
            mac="02:42:00:00:00:09",
        )
    assert scope.cancelled_caught
    assert not netns.exists(ns)
    assert eventually(lambda: netns.host_veth_name(ns) not in veths())


@host
@pytest.mark.anyio
async def test_concurrent_creates_all_succeed(net: TestNet) -> None:
    """Eight namespaces created at once all end up configured and distinct."""
    made: list[netns.Netns] = []

    async def one(n: int) -> None:
        made.append(await net.create(n))

    async with anyio.create_task_group() as group:
        for n in range(1, 9):
            group.start_soon(one, n)
    assert len({m.host_veth for m in made}) == 8
    assert all(netns.configured(m.name, m.address) for m in made)


@host
@pytest.mark.anyio
async def test_list_names_finds_ours_by_prefix(net: TestNet) -> None:
    """list_names returns exactly the namespaces whose names start with the prefix."""
    one, two = await net.create(1), await net.create(2)
    prefix = f"qtns-{net.bridge}-"
    assert netns.list_names(prefix) == sorted([one.name, two.name])
    assert netns.list_names(prefix + "none") == []
