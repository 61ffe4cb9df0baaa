"""Runs containers with an OCI runtime (runc by default, crun as an option).

The only module that executes the runtime. It starts a bundle with minit's descriptors laid
out (PROTOCOL.md), signals init through a pidfd, reads state, and deletes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from quilt.drivers.commands import arun, describe_failure, run, wait_child, wait_ready
from quilt.errors import HostError, ServiceUnavailable

# minit's descriptors (see minit/PROTOCOL.md): 3 = listening socket, 4 = exit-status file.
LISTEN_FD: Final = 3
STATUS_FD: Final = 4


@dataclass(frozen=True)
class InitProcess:
    """The container's init (minit) as the host sees it."""

    pid: int
    start_time: int


def proc_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks), None if the pid is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    return int(stat.rsplit(")", 1)[1].split()[19])


def is_zombie(pid: int) -> bool:
    """Whether the process has exited but not been reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def cgroup_layout(root: Path = Path("/sys/fs/cgroup")) -> str:
    """`unified` (cgroup v2 only), `hybrid` (v1 controllers plus a v2 tree) or `legacy` (v1)."""
    if (root / "cgroup.controllers").exists():
        return "unified"
    if (root / "unified" / "cgroup.controllers").exists():
        return "hybrid"
    return "legacy"


def choose_runtime(wanted: str, layout: str) -> tuple[str, str | None]:
    """The runtime to use, and why it differs from the one asked for (None if it does not).

    crun refuses hybrid cgroup layouts, and the workaround (a private mount namespace hiding
    the v2 tree) puts memory cgroups outside the server's own, so there runc is used instead.
    """
    if wanted == "crun" and layout == "hybrid":
        return "runc", "crun does not support this host's hybrid cgroup layout; using runc"
    return wanted, None


class OciRuntime:
    """One OCI runtime binary with its own state root."""

    def __init__(self, binary: str, state_root: Path) -> None:
        path = shutil.which(binary)
        if path is None:
            raise ServiceUnavailable(
                f"the OCI runtime `{binary}` is not installed",
                hint=f"install it with `apt-get install {binary}`",
            )
        self.name = binary
        self.binary = path
        self.state_root = state_root
        state_root.mkdir(parents=True, exist_ok=True)

    def version(self) -> str:
        """The runtime's first version line (proves it runs)."""
        return run([self.binary, "--version"], timeout=10).text.splitlines()[0]

    def _argv(self, *args: str) -> list[str]:
        return [self.binary, "--root", str(self.state_root), *args]

    async def start(
        self, container_id: str, bundle: Path, *, listen_fd: int, status_fd: int, log_fd: int
    ) -> InitProcess:
        """Create and start the container detached; return its init once it runs.

        The runtime's stdio becomes the container's: fd 1 and 2 go to the log file (never a
        pipe: a detached runtime holds it open until the container exits).
        """
        error_log = bundle / "runtime.log"
        argv = [
            *self._argv("--log", str(error_log), "run", "-d"),
            "--preserve-fds",
            "2",
            "--pid-file",
            str(bundle / "init.pid"),
            "-b",
            str(bundle),
            container_id,
        ]
        devnull = os.open(os.devnull, os.O_RDONLY)
        try:
            # posix_spawn returns as soon as the child exists (vfork); it does not wait.
            pid = os.posix_spawn(  # noqa: ASYNC221
                self.binary,
                argv,
                dict(os.environ),
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, devnull, 0),
                    (os.POSIX_SPAWN_DUP2, log_fd, 1),
                    (os.POSIX_SPAWN_DUP2, log_fd, 2),
                    (os.POSIX_SPAWN_DUP2, listen_fd, LISTEN_FD),
                    (os.POSIX_SPAWN_DUP2, status_fd, STATUS_FD),
                ],
            )
        finally:
            os.close(devnull)
        code = await wait_child(pid)
        if code != 0:
            said = error_log.read_bytes() if error_log.exists() else b""
            raise HostError(describe_failure(argv, code, _runtime_errors(said)))
        init_pid = int((bundle / "init.pid").read_text())
        start = proc_start_time(init_pid)
        if start is None:
            raise HostError(f"container {container_id} exited as soon as it started")
        return InitProcess(init_pid, start)

    def init(self, container_id: str) -> InitProcess | None:
        """The container's live init from the runtime's state, or None if it is not running."""
        state_file = self.state_root / container_id / "state.json"
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            return None
        pid = int(state.get("init_process_pid", 0))
        start = int(state.get("init_process_start", 0))
        if pid <= 0 or proc_start_time(pid) != start or is_zombie(pid):
            return None
        return InitProcess(pid, start)

    def known(self) -> list[str]:
        """Ids of every container this runtime root holds state for."""
        try:
            return sorted(p.name for p in self.state_root.iterdir() if p.is_dir())
        except FileNotFoundError:
            return []

    def signal(self, container_id: str, sig: int) -> bool:
        """Send `sig` to the container's init; False if it is not running."""
        init = self.init(container_id)
        if init is None:
            return False
        try:
            fd = os.pidfd_open(init.pid)
        except ProcessLookupError:
            return False
        try:
            # Checked against the start time above; the pidfd pins that exact process.
            if proc_start_time(init.pid) != init.start_time:
                return False
            signal.pidfd_send_signal(fd, sig)
        except ProcessLookupError:
            return False
        finally:
            os.close(fd)
        return True

    async def wait_exit(self, container_id: str, timeout: float | None) -> bool:
        """Wait until the container's init is gone; False on timeout."""
        init = self.init(container_id)
        if init is None:
            return True
        try:
            fd = os.pidfd_open(init.pid)
        except ProcessLookupError:
            return True
        try:
            await wait_ready(fd, timeout)
        except TimeoutError:
            return False
        finally:
            os.close(fd)
        return True

    async def delete(self, container_id: str) -> None:
        """Kill what is left, wait for it, and delete the runtime's state (idempotent)."""
        if self.signal(container_id, signal.SIGKILL):
            await self.wait_exit(container_id, timeout=10)
        if not (self.state_root / container_id).exists():
            return
        result = await arun(self._argv("delete", "--force", container_id), check=False)
        if result.returncode != 0 and (self.state_root / container_id).exists():
            raise HostError(describe_failure(result.argv, result.returncode, result.stderr))


def _runtime_errors(log: bytes) -> bytes:
    # runc --log-format text lines look like `time=… level=error msg="…"`; keep the messages.
    lines = [ln for ln in log.decode(errors="replace").splitlines() if "level=error" in ln]
    return "\n".join(lines[-3:] or log.decode(errors="replace").splitlines()[-3:]).encode()
