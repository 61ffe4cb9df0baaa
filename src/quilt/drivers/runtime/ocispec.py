"""Pure generation of an OCI runtime `config.json` from a container's runtime spec (no I/O).

What `strict` hardens, and what every container gets regardless, is decided here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

MINIT_TARGET: Final = "/.quilt/minit"
DEFAULT_PATH: Final = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CPU_PERIOD_US: Final = 100_000

# Docker's default capability set: enough for package managers and servers on low ports.
DEFAULT_CAPS: Final = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)
# `strict` keeps only what ordinary programs running as root need.
STRICT_CAPS: Final = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
)

MASKED_PATHS: Final = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
# /proc/sys is read-only for every container: many of its files are host-wide, and root in
# a container without a user namespace could otherwise change host settings.
READONLY_PATHS: Final = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)

# Syscalls `strict` containers may not make: kernel modules, mounts and namespaces, clocks,
# keyrings, tracing, and other host-level controls. Everything else is allowed.
STRICT_DENIED_SYSCALLS: Final = (
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mount",
    "mount_setattr",
    "move_mount",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "personality",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "setns",
    "settimeofday",
    "stime",
    "swapoff",
    "swapon",
    "syslog",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vhangup",
)


@dataclass(frozen=True)
class BindMount:
    """A host path mounted into the container."""

    source: str
    target: str
    read_only: bool = True


@dataclass(frozen=True)
class RuntimeSpec:
    """Everything the OCI config depends on."""

    container_id: str
    rootfs: str
    hostname: str
    netns_path: str
    minit_path: str
    command: tuple[str, ...] | None
    environment: dict[str, str]
    working_directory: str
    memory_limit_mb: int
    cpu_limit_percent: float
    pids_limit: int
    strict: bool
    binds: tuple[BindMount, ...] = field(default_factory=tuple)
    open_files: int = 65536  # RLIMIT_NOFILE; never above the host's own hard limit


def with_defaults(environment: Mapping[str, str]) -> dict[str, str]:
    """The environment with a default PATH, HOME and TERM unless the user set them."""
    return {"PATH": DEFAULT_PATH, "HOME": "/root", "TERM": "xterm"} | dict(environment)


def process_env(environment: Mapping[str, str]) -> list[str]:
    """`K=V` strings of the environment with its defaults."""
    return [f"{k}={v}" for k, v in with_defaults(environment).items()]


def minit_args(command: tuple[str, ...] | None, working_directory: str) -> list[str]:
    """Minit's argv: idle without a command, else start it in `working_directory`."""
    args = [MINIT_TARGET, "--cwd", working_directory]
    return [*args, "--", *command] if command else args


def cpu_quota_us(cpu_limit_percent: float) -> int:
    """CFS quota for a limit given in percent of one CPU (100 = one full core)."""
    return max(1000, round(CPU_PERIOD_US * cpu_limit_percent / 100))


def seccomp_profile() -> dict[str, Any]:
    """The default `strict` seccomp profile: allow all, deny the listed syscalls with EPERM."""
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": list(STRICT_DENIED_SYSCALLS), "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
        ],
    }


def _mounts(spec: RuntimeSpec) -> list[dict[str, Any]]:
    nosuid = ["nosuid", "noexec", "nodev"]
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
        },
        {
            "destination": "/dev/shm",  # noqa: S108 - the container's own shm mount
            "type": "tmpfs",
            "source": "shm",
            "options": [*nosuid, "mode=1777", "size=65536k"],
        },
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": nosuid},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": [*nosuid, "ro"]},
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": [*nosuid, "relatime", "ro"],
        },
        {
            "destination": MINIT_TARGET,
            "type": "bind",
            "source": spec.minit_path,
            "options": ["rbind", "ro", "nosuid", "nodev"],
        },
    ]
    for bind in spec.binds:
        options = ["rbind", "nosuid", "nodev", "ro" if bind.read_only else "rw"]
        mounts.append(
            {"destination": bind.target, "type": "bind", "source": bind.source, "options": options}
        )
    return mounts


def build_config(spec: RuntimeSpec) -> dict[str, Any]:
    """The OCI runtime config for one container."""
    caps = list(STRICT_CAPS if spec.strict else DEFAULT_CAPS)
    memory = spec.memory_limit_mb * 1024 * 1024
    linux: dict[str, Any] = {
        "namespaces": [
            {"type": "pid"},
            {"type": "ipc"},
            {"type": "uts"},
            {"type": "mount"},
            {"type": "network", "path": spec.netns_path},
        ],
        "cgroupsPath": spec.container_id,
        "resources": {
            "devices": [{"allow": False, "access": "rwm"}],
            # swap equal to the limit: no swap beyond the memory limit.
            "memory": {"limit": memory, "swap": memory},
            "cpu": {"quota": cpu_quota_us(spec.cpu_limit_percent), "period": CPU_PERIOD_US},
            "pids": {"limit": spec.pids_limit},
        },
        "maskedPaths": list(MASKED_PATHS),
        "readonlyPaths": list(READONLY_PATHS),
    }
    if spec.strict:
        linux["seccomp"] = seccomp_profile()
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": minit_args(spec.command, spec.working_directory),
            "env": process_env(spec.environment),
            "cwd": "/",
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps,
                "inheritable": [],
                "ambient": [],
            },
            "rlimits": [
                {"type": "RLIMIT_NOFILE", "hard": spec.open_files, "soft": spec.open_files}
            ],
            "noNewPrivileges": spec.strict,
        },
        "root": {"path": spec.rootfs, "readonly": False},
        "hostname": spec.hostname,
        "mounts": _mounts(spec),
        "linux": linux,
    }
