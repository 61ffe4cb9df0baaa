"""Reads a container's cgroups (v1 controllers, or the v2 unified tree) and adjusts limits.

Paths come from /proc/<init pid>/cgroup, so wherever the runtime nested the container (under
the server's own cgroup), the numbers are the container's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from quilt.drivers.runtime.ocispec import CPU_PERIOD_US, cpu_quota_us
from quilt.errors import HostError

CGROUP_ROOT: Final = Path("/sys/fs/cgroup")
UNLIMITED: Final = 2**63 - 4096  # v1 memory.limit_in_bytes when no limit is set


@dataclass(frozen=True)
class Usage:
    """A container's resource usage, read from its cgroups."""

    cpu_usage_usec: int
    cpu_user_usec: int
    cpu_system_usec: int
    cpu_throttled_usec: int
    memory_current_bytes: int
    memory_peak_bytes: int
    memory_limit_bytes: int
    memory_cache_bytes: int
    memory_rss_bytes: int
    pids_current: int
    pids_limit: int


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """Map each controller (and `""` for the v2 unified tree) to its path."""
    paths: dict[str, str] = {}
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller.removeprefix("name=")] = path
    return paths


def parse_flat_keyed(text: str) -> dict[str, int]:
    """Parse `key value` lines (memory.stat, cpu.stat, cpuacct.stat)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


class Cgroups:
    """The cgroup directories of one process (a container's init)."""

    def __init__(self, pid: int) -> None:
        try:
            text = Path(f"/proc/{pid}/cgroup").read_text()
        except OSError as exc:
            raise HostError(f"cannot read /proc/{pid}/cgroup: {exc.strerror}") from exc
        self.paths = parse_proc_cgroup(text)

    def dir(self, controller: str) -> Path | None:
        """The directory of one v1 controller, or None if it is not mounted."""
        path = self.paths.get(controller)
        if path is None:
            return None
        directory = CGROUP_ROOT / controller / path.lstrip("/")
        return directory if directory.is_dir() else None

    def _read(self, controller: str, name: str) -> str | None:
        directory = self.dir(controller)
        if directory is None:
            return None
        try:
            return (directory / name).read_text()
        except OSError:
            return None

    def _int(self, controller: str, name: str) -> int:
        text = self._read(controller, name)
        if text is None or not text.strip().lstrip("-").isdigit():
            return 0
        return int(text)

    def usage(self) -> Usage:
        """CPU, memory and pid counts as the kernel accounts them."""
        ticks_to_usec = 10_000  # cpuacct.stat counts USER_HZ (100 Hz) ticks
        cpuacct = parse_flat_keyed(self._read("cpuacct", "cpuacct.stat") or "")
        cpu_stat = parse_flat_keyed(self._read("cpu", "cpu.stat") or "")
        memory_stat = parse_flat_keyed(self._read("memory", "memory.stat") or "")
        pids_max = (self._read("pids", "pids.max") or "max").strip()
        return Usage(
            cpu_usage_usec=self._int("cpuacct", "cpuacct.usage") // 1000,
            cpu_user_usec=cpuacct.get("user", 0) * ticks_to_usec,
            cpu_system_usec=cpuacct.get("system", 0) * ticks_to_usec,
            cpu_throttled_usec=cpu_stat.get("throttled_time", 0) // 1000,
            memory_current_bytes=self._int("memory", "memory.usage_in_bytes"),
            memory_peak_bytes=self._int("memory", "memory.max_usage_in_bytes"),
            memory_limit_bytes=self._int("memory", "memory.limit_in_bytes"),
            memory_cache_bytes=memory_stat.get("cache", 0),
            memory_rss_bytes=memory_stat.get("rss", 0),
            pids_current=self._int("pids", "pids.current"),
            pids_limit=int(pids_max) if pids_max.isdigit() else 0,
        )

    def pids(self) -> list[int]:
        """Host pids of every process in the container."""
        text = self._read("pids", "cgroup.procs") or self._read("memory", "cgroup.procs") or ""
        return [int(p) for p in text.split()]

    def set_limits(self, *, memory_limit_mb: int, cpu_limit_percent: float) -> None:
        """Change memory and CPU limits of a running container (when a pool member is claimed)."""
        memory = self.dir("memory")
        cpu = self.dir("cpu")
        if memory is None or cpu is None:
            raise HostError("the memory or cpu cgroup controller is not mounted")
        limit = str(memory_limit_mb * 1024 * 1024)
        try:
            # memsw must stay >= the memory limit: raise it first when growing, last when shrinking.
            current = int((memory / "memory.limit_in_bytes").read_text())
            order = ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]
            if int(limit) < current:
                order.reverse()
            for name in order:
                target = memory / name
                if target.exists():
                    target.write_text(limit)
            (cpu / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
            (cpu / "cpu.cfs_quota_us").write_text(str(cpu_quota_us(cpu_limit_percent)))
        except OSError as exc:
            raise HostError(f"cannot update the limits of cgroup {memory}: {exc.strerror}") from exc

    # -- freezing (snapshots and forks capture a still filesystem) ---------------------------

    def _freezer(self) -> tuple[Path, str, str, str]:
        """The file that freezes, and what to write to freeze and thaw and to read when frozen."""
        v1 = self.dir("freezer")
        if v1 is not None:
            return v1 / "freezer.state", "FROZEN", "THAWED", "FROZEN"
        unified = self.paths.get("")
        if unified is not None:
            directory = CGROUP_ROOT / "unified" / unified.lstrip("/")
            if not directory.is_dir():
                directory = CGROUP_ROOT / unified.lstrip("/")
            if (directory / "cgroup.freeze").exists():
                return directory / "cgroup.freeze", "1", "0", "1"
        raise HostError("no cgroup freezer is available for this container")

    def set_frozen(self, frozen: bool) -> None:
        """Ask the kernel to freeze (or thaw) every process of the container."""
        path, freeze, thaw, _ = self._freezer()
        try:
            path.write_text(freeze if frozen else thaw)
        except OSError as exc:
            raise HostError(f"cannot write {path}: {exc.strerror}") from exc

    def is_frozen(self) -> bool:
        """Whether every process of the container is frozen now (not merely freezing)."""
        path, _, _, done = self._freezer()
        if path.name == "cgroup.freeze":
            events = parse_flat_keyed((path.parent / "cgroup.events").read_text())
            return events.get("frozen") == 1
        return path.read_text().strip() == done
