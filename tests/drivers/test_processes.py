"""Process listings read from /proc: what is alive, and what has only exited."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from quilt.drivers.runtime import processes


def test_a_zombie_is_not_listed_as_alive() -> None:
    """A process that has exited but is not yet reaped is left out; a live one is listed."""
    live = subprocess.Popen(["sleep", "30"])
    dead = subprocess.Popen(["true"])
    try:
        for _ in range(500):  # `true` exits at once; it stays a zombie until waited for
            if Path(f"/proc/{dead.pid}/stat").read_text().split(") ")[1].startswith("Z"):
                break
            time.sleep(0.01)
        listed = processes.in_container([live.pid, dead.pid])
        assert [p.host_pid for p in listed] == [live.pid]
        assert listed[0].args == ["sleep", "30"]
    finally:
        live.kill()
        live.wait()
        dead.wait()
