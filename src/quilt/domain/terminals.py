"""Terminal sessions: their states and request rules, with no I/O.

ready (made, nobody attached yet) → active (one or more clients attached) → idle (everyone
left; the shell runs on until the idle timeout) → active again on re-attach, or terminated
(the shell ended, the session was deleted, it idled or lived past its TTL). error: the
terminal could not be kept (its container's init went away).
"""

from __future__ import annotations

import signal
from enum import StrEnum
from typing import Final

from quilt.errors import BadRequest

MAX_SIZE: Final = 1000
SIGNALS: Final = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGHUP": signal.SIGHUP}
TARGETS: Final = ("container",)


class SessionState(StrEnum):
    """Where a terminal session is in its life."""

    READY = "ready"
    ACTIVE = "active"
    IDLE = "idle"
    TERMINATED = "terminated"
    ERROR = "error"


ENDED: Final = frozenset({SessionState.TERMINATED, SessionState.ERROR})


def check_size(cols: int, rows: int) -> tuple[int, int]:
    """A terminal size: 1 to 1000 columns and rows."""
    if not (0 < cols <= MAX_SIZE and 0 < rows <= MAX_SIZE):
        raise BadRequest(
            f"cols and rows must be between 1 and {MAX_SIZE}",
            details={"received": f"{cols}x{rows}"},
        )
    return cols, rows


def check_target(target: str) -> str:
    """Only container terminals exist on this server."""
    if target not in TARGETS:
        raise BadRequest(
            f"target {target!r} is not available on this server",
            details={"expected": list(TARGETS), "received": target},
            hint="open a terminal in one of your containers: target=container",
        )
    return target


def check_shell(shell: str) -> str:
    """A shell is an absolute path or a bare program name, without spaces or NUL."""
    if not shell or any(c in shell for c in " \t\n\x00") or ("/" in shell[1:] and shell[0] != "/"):
        raise BadRequest(
            "shell must be one program, e.g. /bin/bash or sh",
            details={"received": shell},
        )
    return shell


def parse_signal(name: str) -> signal.Signals:
    """SIGINT, SIGTERM or SIGHUP (with or without the SIG prefix)."""
    key = name.strip().upper()
    key = key if key.startswith("SIG") else f"SIG{key}"
    if key not in SIGNALS:
        raise BadRequest(
            f"signal {name!r} cannot be sent to a terminal",
            details={"expected": sorted(SIGNALS), "received": name},
        )
    return SIGNALS[key]
