"""The bridge's packet rules: tenant isolation, anti-spoofing and NAT, in nftables.

One `bridge` table per Quilt bridge, `quilt_<bridge>`, holds the rules every container port
passes through, and sets that say which port is whose:

- `ports`: every container's host-side veth; traffic of other ports is never touched.
- `addresses`: (port, IPv4 address) pairs. A port may send IPv4 and ARP only from its own
  address, so a container cannot pose as another (even with CAP_NET_RAW).
- `group` / `members`: each port's tenant as a packet mark. Frames between two ports pass only
  when both carry the same mark; a port without a group (a warm pool member) reaches no one.
- Frames a port sends to the host for an address in the subnet other than the gateway are
  dropped, so the host never routes one tenant's packets to another.

An `ip` table of the same name masquerades the subnet's traffic leaving by any other
interface, when egress is on. Rules are replaced atomically at start; the sets are changed one
container at a time through libnftables (in-process, ~0.3 ms a change, no `nft` process).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from quilt.errors import HostError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from ipaddress import IPv4Address

    from quilt.domain.ipam import Subnet

LIBRARY: Final = "libnftables.so.1"


@dataclass(frozen=True)
class Port:
    """One container's place in the rules: its veth, its address, its tenant (or none)."""

    veth: str
    address: IPv4Address
    group: str | None = None


class _Nft:
    """A libnftables context: runs nft command text, raising HostError with nft's message."""

    def __init__(self) -> None:
        try:
            lib = ctypes.CDLL(ctypes.util.find_library("nftables") or LIBRARY)
        except OSError as exc:
            raise HostError(
                f"cannot load {LIBRARY}: {exc}", hint="install the nftables package"
            ) from exc
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        for name in ("nft_ctx_buffer_output", "nft_ctx_buffer_error", "nft_ctx_free"):
            getattr(lib, name).argtypes = [ctypes.c_void_p]
        for name in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
            getattr(lib, name).argtypes = [ctypes.c_void_p]
            getattr(lib, name).restype = ctypes.c_char_p
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        self._lib = lib
        self._ctx = lib.nft_ctx_new(0)
        lib.nft_ctx_buffer_output(self._ctx)
        lib.nft_ctx_buffer_error(self._ctx)
        self._lock = threading.Lock()

    def run(self, commands: str, *, json_output: bool = False) -> str:
        """Run `commands` as one transaction; return what nft printed."""
        with self._lock:
            self._lib.nft_ctx_output_set_flags(self._ctx, 1 << 4 if json_output else 0)
            failed = self._lib.nft_run_cmd_from_buffer(self._ctx, commands.encode())
            out = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode()
            err = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode()
        if failed:
            first = err.strip().splitlines()[0] if err.strip() else "unknown error"
            raise HostError(f"nftables refused a change: {first}", details={"nft": err.strip()})
        return out


class Firewall:
    """The rules of one bridge; every method is idempotent and safe to call again."""

    def __init__(self, bridge: str, subnet: Subnet) -> None:
        self.bridge = bridge
        self.subnet = subnet
        self.table = f"quilt_{bridge}"
        self._nft = _Nft()
        self._ports: dict[str, Port] = {}
        self._marks: dict[str, int] = {}

    # -- whole tables ------------------------------------------------------------------------

    def install(self, ports: Iterable[Port], *, masquerade: bool) -> None:
        """Replace the tables with fresh rules holding exactly `ports`, in one transaction.

        Replacing in one transaction means a running container is never, even briefly, in no
        set: there is no moment when its traffic passes unchecked.
        """
        self._marks.clear()
        self._ports = {p.veth: p for p in ports}
        t, gateway = self.table, self.subnet.gateway
        commands = [
            f"table bridge {t} {{}}",
            f"delete table bridge {t}",
            f"""table bridge {t} {{
  set ports {{ type ifname; }}
  set addresses {{ type ifname . ipv4_addr; }}
  map group {{ type ifname : mark; }}
  set members {{ type ifname . mark; }}
  chain prerouting {{
    type filter hook prerouting priority -200; policy accept;
    iifname != @ports accept
    ether type ip iifname . ip saddr != @addresses drop
    ether type arp iifname . arp saddr ip != @addresses drop
  }}
  chain input {{
    type filter hook input priority 0; policy accept;
    iifname != @ports accept
    ether type ip ip daddr {self.subnet} ip daddr != {gateway} drop
  }}
  chain forward {{
    type filter hook forward priority 0; policy accept;
    iifname != @ports accept
    meta mark set iifname map @group
    oifname . meta mark @members accept
    drop
  }}
}}""",
            f"table ip {t} {{}}",
            f"delete table ip {t}",
        ]
        if masquerade:
            commands.append(
                f"""table ip {t} {{
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr {self.subnet} oifname != "{self.bridge}" masquerade
  }}
}}"""
            )
        commands += [line for port in self._ports.values() for line in self._adds(port)]
        self._nft.run("\n".join(commands))

    def uninstall(self) -> None:
        """Remove both tables (when the bridge itself goes)."""
        t = self.table
        self._nft.run(
            "\n".join(
                f"table {family} {t} {{}}\ndelete table {family} {t}" for family in ("bridge", "ip")
            )
        )
        self._ports.clear()

    # -- one port ----------------------------------------------------------------------------

    def admit(self, port: Port) -> None:
        """Put a port in the rules, or move it to its new address or group."""
        old = self._ports.get(port.veth)
        if old == port:
            return
        commands = self._removes(old) if old else []
        self._nft.run("\n".join([*commands, *self._adds(port)]))
        self._ports[port.veth] = port

    def forget(self, veth: str) -> None:
        """Take a port out of the rules (its container is gone)."""
        old = self._ports.pop(veth, None)
        if old is not None:
            self._nft.run("\n".join(self._removes(old)))

    def port(self, veth: str) -> Port | None:
        """What the rules hold for a port."""
        return self._ports.get(veth)

    def elements(self) -> Mapping[str, list[object]]:
        """The sets as the kernel holds them (for diagnostics and tests)."""
        shown = json.loads(self._nft.run(f"list table bridge {self.table}", json_output=True))
        found: dict[str, list[object]] = {}
        for item in shown["nftables"]:
            body = item.get("set") or item.get("map")
            if body:
                found[body["name"]] = body.get("elem", [])
        return found

    def _mark(self, group: str) -> int:
        return self._marks.setdefault(group, len(self._marks) + 1)

    def _elements(self, port: Port) -> list[tuple[str, str, str]]:
        """(set or map, key, value after the key when adding) of each element a port has."""
        v = f'"{port.veth}"'
        found = [("ports", v, ""), ("addresses", f"{v} . {port.address}", "")]
        if port.group is not None:
            mark = self._mark(port.group)
            found += [("group", v, f" : {mark}"), ("members", f"{v} . {mark}", "")]
        return found

    def _adds(self, port: Port) -> list[str]:
        return [
            f"add element bridge {self.table} {name} {{ {key}{value} }}"
            for name, key, value in self._elements(port)
        ]

    def _removes(self, port: Port) -> list[str]:
        return [
            f"delete element bridge {self.table} {name} {{ {key} }}"
            for name, key, _ in self._elements(port)
        ]
