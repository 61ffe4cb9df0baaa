"""Request rules that need no I/O: names, argv, environment, limits, volume specs, GPUs.

Each check raises `BadRequest` (a well-formed request asking for something invalid) with
`details` that say what was expected and what arrived. Host facts come in as arguments.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from quilt.errors import BadRequest, CapacityFull

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
VOLUME_NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
ENV_KEY_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LABEL_KEY_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$")
# Paths a volume may not cover: the kernel's filesystems and Quilt's own control mount.
RESERVED_TARGETS: Final = ("/proc", "/sys", "/dev", "/.quilt")
MIN_MEMORY_MB: Final = 16
GUI_IMAGE: Final = "prod-gui"


def _bad(
    message: str, *, expected: str, received: object, example: str | None = None
) -> BadRequest:
    details: dict[str, object] = {"expected": [expected], "received": str(received)}
    if example is not None:
        details["example"] = example
    return BadRequest(message, details=details)


def check_name(name: str, *, what: str = "container name") -> str:
    """A name is 1-63 letters, digits, `_`, `.` or `-`, starting with a letter or digit."""
    if not NAME_RE.match(name):
        raise _bad(
            f"invalid {what} {name!r}",
            expected="1-63 chars of [A-Za-z0-9_.-], starting with a letter or digit",
            received=name,
            example="my-sandbox",
        )
    return name


def check_argv(argv: Sequence[str], *, field: str = "command") -> tuple[str, ...]:
    """An argv is a non-empty list of strings without NUL bytes, argv[0] non-empty."""
    if not argv or not argv[0]:
        raise _bad(
            f"`{field}` must be a non-empty argv array",
            expected="non-empty array of strings",
            received=list(argv),
            example='["/bin/sh", "-lc", "echo hello"]',
        )
    if any("\0" in arg for arg in argv):
        raise _bad(f"`{field}` contains a NUL byte", expected="no NUL bytes", received="\\0")
    return tuple(argv)


def check_environment(env: Mapping[str, str], *, field: str = "environment") -> dict[str, str]:
    """Keys are shell-style identifiers; values carry no NUL bytes."""
    for key, value in env.items():
        if not ENV_KEY_RE.match(key):
            raise _bad(
                f"invalid variable name {key!r} in `{field}`",
                expected="[A-Za-z_][A-Za-z0-9_]*",
                received=key,
                example="FOO_BAR",
            )
        if "\0" in value:
            raise _bad(
                f"value of {key} in `{field}` contains a NUL byte",
                expected="no NUL",
                received="\\0",
            )
    return dict(env)


def check_path(path: str, *, field: str) -> str:
    """An absolute, NUL-free path, returned normalised."""
    if not path.startswith("/") or "\0" in path:
        raise _bad(
            f"`{field}` must be an absolute path",
            expected="absolute path",
            received=path,
            example="/app",
        )
    return posixpath.normpath(path)


def check_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Label keys are short identifiers; values are at most 255 characters."""
    for key, value in labels.items():
        if not LABEL_KEY_RE.match(key):
            raise _bad(
                f"invalid label key {key!r}", expected="1-63 chars of [A-Za-z0-9_./-]", received=key
            )
        if len(value) > 255:  # noqa: PLR2004 - the documented label value limit
            raise _bad(
                f"label {key!r} is longer than 255 characters",
                expected="<= 255 chars",
                received=len(value),
            )
    return dict(labels)


def check_limits(
    memory_limit_mb: int, cpu_limit_percent: float, *, host_memory_mb: int, host_cpus: int
) -> None:
    """Memory between 16 MiB and the host's memory; CPU between 1 % and 100 % per host core."""
    if not MIN_MEMORY_MB <= memory_limit_mb <= host_memory_mb:
        raise _bad(
            f"memory_limit_mb {memory_limit_mb} is outside {MIN_MEMORY_MB}..{host_memory_mb}",
            expected=f"{MIN_MEMORY_MB}..{host_memory_mb}",
            received=memory_limit_mb,
        )
    cpu_max = 100 * host_cpus
    if not 1 <= cpu_limit_percent <= cpu_max:
        raise _bad(
            f"cpu_limit_percent {cpu_limit_percent} is outside 1..{cpu_max} (100 per core)",
            expected=f"1..{cpu_max}",
            received=cpu_limit_percent,
        )


@dataclass(frozen=True)
class VolumeMount:
    """One parsed `volumes` entry: `<volume-name>:<target-path>[:ro|:rw]`."""

    name: str
    target: str
    read_only: bool


def parse_volume(spec: str) -> VolumeMount:
    """Parse and check one `volumes` entry; host paths and reserved targets are refused."""
    parts = spec.split(":")
    example = "data-volume:/workspace"
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("ro", "rw")):  # noqa: PLR2004
        raise _bad(
            f"invalid volume entry {spec!r}",
            expected="<volume-name>:<target-path>[:ro]",
            received=spec,
            example=example,
        )
    name, target = parts[0], parts[1]
    if name.startswith(("/", ".")):
        raise _bad(
            f"volume entry {spec!r} names a host path; only named volumes can be attached",
            expected="a volume name",
            received=name,
            example=example,
        )
    if not VOLUME_NAME_RE.match(name):
        raise _bad(
            f"invalid volume name {name!r}", expected="[A-Za-z0-9_-], 1-63 chars", received=name
        )
    target = check_path(target, field="volume target")
    if target == "/" or any(target == r or target.startswith(r + "/") for r in RESERVED_TARGETS):
        raise _bad(
            f"volume target {target!r} is reserved",
            expected="a path outside /proc, /sys, /dev, /.quilt",
            received=target,
        )
    return VolumeMount(name, target, read_only=len(parts) == 3 and parts[2] == "ro")  # noqa: PLR2004


def parse_volumes(specs: Sequence[str]) -> tuple[VolumeMount, ...]:
    """Parse every entry; two entries may not share a target."""
    mounts = tuple(parse_volume(s) for s in specs)
    targets = [m.target for m in mounts]
    if len(set(targets)) != len(targets):
        raise _bad(
            "two volumes share one target path", expected="distinct targets", received=targets
        )
    return mounts


def check_gpus(gpu_count: int, gpu_ids: Sequence[str], *, host_gpus: Sequence[str]) -> None:
    """Shape first (400), then capacity (503 CAPACITY_FULL with a hint)."""
    if gpu_count < 0:
        raise _bad("gpu_count must not be negative", expected=">= 0", received=gpu_count)
    if gpu_ids and len(gpu_ids) != gpu_count:
        raise _bad(
            "gpu_ids must list exactly gpu_count devices",
            expected=f"{gpu_count} ids",
            received=list(gpu_ids),
            example='{"gpu_count": 1, "gpu_ids": ["nvidia0"]}',
        )
    if len(set(gpu_ids)) != len(gpu_ids):
        raise _bad("gpu_ids repeats a device", expected="distinct ids", received=list(gpu_ids))
    if gpu_count == 0:
        return
    missing = [g for g in gpu_ids if g not in host_gpus]
    if gpu_count > len(host_gpus) or missing:
        raise CapacityFull(
            f"this host has {len(host_gpus)} GPU(s); the request needs {gpu_count}"
            + (f" including {', '.join(missing)}" if missing else ""),
            details={"expected": [f"<= {len(host_gpus)} GPUs"], "received": str(gpu_count)},
            hint="create the container without gpu_count, or run it on a host with GPUs",
        )


def check_gui_command(image: str, command: Sequence[str] | None) -> None:
    """`prod-gui` runs its own desktop stack and takes no custom command."""
    if image == GUI_IMAGE and command:
        raise _bad(
            "the prod-gui image does not accept a custom command",
            expected="no command with image prod-gui",
            received=list(command),
        )
