"""The Quilt bridge: created once with the gateway address; containers' veths join it.

Never changes host-wide settings (forwarding, NAT): those belong to a later network concern.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from quilt.drivers.commands import run

if TYPE_CHECKING:
    from quilt.domain.ipam import Subnet


@dataclass(frozen=True)
class BridgeState:
    """What the host says about a bridge."""

    exists: bool
    up: bool
    addresses: list[str] = field(default_factory=list)


def _sys(name: str) -> Path:
    return Path("/sys/class/net") / name


def bridge_state(name: str) -> BridgeState:
    """Whether the bridge exists and is up, and its IPv4 addresses."""
    if not (_sys(name) / "bridge").exists():
        return BridgeState(exists=False, up=False)
    flags = int((_sys(name) / "flags").read_text(), 16)
    shown = run(["ip", "-o", "-4", "addr", "show", "dev", name], check=False).text
    addresses = [line.split()[3] for line in shown.splitlines() if len(line.split()) > 3]  # noqa: PLR2004
    return BridgeState(exists=True, up=bool(flags & 1), addresses=addresses)


def ensure_bridge(name: str, subnet: Subnet) -> None:
    """Create the bridge with the gateway address if missing, and bring it up (idempotent)."""
    gateway = f"{subnet.gateway}/{subnet.prefixlen}"
    state = bridge_state(name)
    if not state.exists:
        run(["ip", "link", "add", name, "type", "bridge"])
    if gateway not in state.addresses:
        run(["ip", "addr", "replace", gateway, "dev", name])
    if not state.up:
        run(["ip", "link", "set", name, "up"])


def delete_bridge(name: str) -> None:
    """Delete the bridge if it exists."""
    if _sys(name).exists():
        run(["ip", "link", "del", name], check=False)
