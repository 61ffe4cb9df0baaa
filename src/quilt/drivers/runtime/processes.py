"""Lists a container's processes from the host's /proc, numbered as the container sees them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final


@dataclass(frozen=True)
class HostProcess:
    """A process as /proc describes it, with both its host and in-container pids."""

    host_pid: int
    pid: int
    host_ppid: int
    command: str
    args: list[str]
    state: str
    rss_bytes: int


def parse_status(text: str) -> dict[str, str]:
    """Parse /proc/<pid>/status into a dict."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def read(host_pid: int) -> HostProcess | None:
    """One process, or None if it has gone."""
    base = Path(f"/proc/{host_pid}")
    try:
        status = parse_status((base / "status").read_text())
        cmdline = (base / "cmdline").read_bytes()
    except OSError:
        return None
    nspids = status.get("NSpid", str(host_pid)).split()
    args = [a.decode(errors="replace") for a in cmdline.split(b"\0") if a]
    rss_kb = status.get("VmRSS", "0 kB").split()[0]
    return HostProcess(
        host_pid=host_pid,
        pid=int(nspids[-1]),
        host_ppid=int(status.get("PPid", "0")),
        command=status.get("Name", ""),
        args=args,
        state=status.get("State", "?").split()[0],
        rss_bytes=int(rss_kb) * 1024 if rss_kb.isdigit() else 0,
    )


DEAD: Final = frozenset({"Z", "X"})  # exited, waiting to be reaped (by minit) or going


def in_container(host_pids: list[int]) -> list[HostProcess]:
    """Every listed process still alive (not a zombie), ordered by in-container pid."""
    found = [p for p in (read(pid) for pid in host_pids) if p is not None and p.state not in DEAD]
    return sorted(found, key=lambda p: p.pid)
