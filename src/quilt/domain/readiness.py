"""Readiness: derive `exec_ready`, `network_ready` and `gui_ready` from the probed checks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Checks:
    """What the node observed, one probe each (None = not applicable to this container)."""

    state_running: bool
    minit_responsive: bool
    network_configured: bool
    managed_image_valid: bool
    gui_backend_reachable: bool | None = None


@dataclass(frozen=True)
class Readiness:
    """The derived readiness flags, as the wire contract names them."""

    exec_ready: bool
    network_ready: bool
    gui_ready: bool | None
    checks: Checks


NOT_RUNNING = Checks(
    state_running=False,
    minit_responsive=False,
    network_configured=False,
    managed_image_valid=False,
)


def evaluate(checks: Checks) -> Readiness:
    """Exec needs running + minit + a valid image; network needs the allocation configured."""
    exec_ready = checks.state_running and checks.minit_responsive and checks.managed_image_valid
    network_ready = checks.network_configured
    gui_ready = (
        None
        if checks.gui_backend_reachable is None
        else exec_ready and network_ready and checks.gui_backend_reachable
    )
    return Readiness(exec_ready, network_ready, gui_ready, checks)
