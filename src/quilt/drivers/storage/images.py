"""Managed images (`prod`, `busybox`): built on this host into a cache, and checked for real.

Owns the build recipes, the cache layout (`<cache>/<name>/{image.json,rootfs/}`) and the image
contract check. Must not mount anything into the cache or touch a container's filesystem.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from quilt.drivers.commands import describe_failure, run
from quilt.drivers.locking import exclusive
from quilt.drivers.storage.pool import mounts_under, read_mountinfo
from quilt.errors import HostError, NotFound

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

MANAGED: Final = ("prod", "busybox")
RECIPE_VERSION: Final = {"prod": "1", "busybox": "1"}
MARKER: Final = "etc/quilt-image"
META: Final = "image.json"
ROOTFS: Final = "rootfs"
SUITE: Final = "bookworm"
PROD_PACKAGES: Final = (
    "bash",
    "coreutils",
    "procps",
    "python3",
    "ca-certificates",
    "curl",
    "iproute2",
    "iputils-ping",
    "less",
    "nano",
)
# Bookworm's init-system-helpers depends on `usrmerge | usr-is-merged`; left alone, apt picks
# usrmerge and perl (~30 MB) to convert a chroot that is merged-/usr from the start. This hook
# lays out the merged-/usr symlinks first and installs usr-is-merged instead (mmdebstrap(1)).
MERGED_USR_HOOK: Final = Path("/usr/share/mmdebstrap/hooks/merged-usr")
# Documentation and translations are most of a minbase's size and no container reads them;
# the filters stay in the image (/etc/dpkg/dpkg.cfg.d) so later installs skip them too.
PROD_DPKG_OPTIONS: Final = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
)
PROD_BUILD_TIMEOUT: Final = 1800.0
RESOLV_PLACEHOLDER: Final = (
    "# Quilt gives every container its own resolver configuration at start.\n"
)
_REQUIRED: Final = {
    "common": ("/bin/sh",),
    "prod": ("/bin/bash", "/usr/bin/python3", "/usr/bin/curl"),
}
# Directories whose change (an entry added or removed) means the contract must be re-checked.
_WATCHED: Final = ("", "etc", "bin", "usr/bin", "tmp", MARKER)
_MAX_SYMLINKS: Final = 40
_ELF64_HEADER: Final = 64
_PT_INTERP: Final = 3


@dataclass(frozen=True)
class Image:
    """A built image: read-only layer directories, topmost first."""

    name: str
    layers: tuple[Path, ...]
    built_at: str
    size_bytes: int


@dataclass(frozen=True)
class ImageCheck:
    """The outcome of checking an image against the managed image contract."""

    valid: bool
    problems: list[str] = field(default_factory=list)


# --- pure helpers -------------------------------------------------------------------------


def host_apt_sources(apt_dir: Path = Path("/etc/apt")) -> list[Path]:
    """The apt source files apt itself would read: sources.list, then `*.list`/`*.sources`.

    Files with any other suffix (`.disabled-by-farm`, `.save`) are ignored, as apt ignores them.
    """
    found = [apt_dir / "sources.list"] if (apt_dir / "sources.list").is_file() else []
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        found += sorted(
            p for p in parts.iterdir() if p.suffix in {".list", ".sources"} and p.is_file()
        )
    return found


def elf_is_static(head: bytes) -> bool:
    """Whether a 64-bit little-endian ELF (its first bytes) has no PT_INTERP program header."""
    if len(head) < _ELF64_HEADER or head[:6] != b"\x7fELF\x02\x01":  # ELFCLASS64, LSB
        return False
    (phoff,) = struct.unpack_from("<Q", head, 0x20)
    entsize, count = struct.unpack_from("<HH", head, 0x36)
    for index in range(count):
        offset = phoff + index * entsize
        if offset + 4 > len(head):
            return False
        (kind,) = struct.unpack_from("<I", head, offset)
        if kind == _PT_INTERP:  # the binary needs a dynamic loader the image may not have
            return False
    return True


def marker_text(name: str, built_at: str) -> str:
    """The `/etc/quilt-image` marker of a managed image."""
    return json.dumps({"name": name, "version": RECIPE_VERSION[name], "built_at": built_at}) + "\n"


def lookup(layers: Sequence[Path], path: str) -> Path | None:
    """Find `path` in the merged view of `layers` (topmost first); None if it is absent.

    Symlinks are followed inside the view: absolute targets start at its root, never the host's.
    """
    pending = [p for p in path.split("/") if p]
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        found = _in_layers(layers, [*resolved, part])
        if found is None:
            return None
        if found.is_symlink():
            hops += 1
            if hops > _MAX_SYMLINKS:
                return None
            target = str(found.readlink())
            if target.startswith("/"):
                resolved = []
            pending = [p for p in target.split("/") if p] + pending
            continue
        resolved.append(part)
    return _in_layers(layers, resolved) if resolved else layers[0]


def _in_layers(layers: Sequence[Path], parts: list[str]) -> Path | None:
    for layer in layers:
        candidate = layer.joinpath(*parts)
        if os.path.lexists(candidate):
            return candidate
    return None


def check_contract(name: str, layers: Sequence[Path], built_at: str | None) -> ImageCheck:
    """Check the managed image contract on disk: shell, passwd, /tmp, marker, prod's tools."""
    problems: list[str] = []
    for path in _REQUIRED["common"] + _REQUIRED.get(name, ()):
        found = lookup(layers, path)
        if found is None:
            problems.append(f"{path} is missing")
        elif not found.is_file() or not found.stat().st_mode & 0o111:
            problems.append(f"{path} is not an executable file")
    passwd = lookup(layers, "/etc/passwd")
    if passwd is None or not passwd.is_file():
        problems.append("/etc/passwd is missing")
    tmp = lookup(layers, "/tmp")  # noqa: S108 - the image's own /tmp, not the host's
    if tmp is None or not tmp.is_dir():
        problems.append("/tmp is not a directory")  # noqa: S108 - same
    problems += _marker_problems(name, layers, built_at)
    return ImageCheck(valid=not problems, problems=problems)


def _marker_problems(name: str, layers: Sequence[Path], built_at: str | None) -> list[str]:
    marker = lookup(layers, "/" + MARKER)
    if marker is None:
        return [f"/{MARKER} is missing"]
    try:
        data = json.loads(marker.read_text())
    except (OSError, ValueError) as exc:
        return [f"/{MARKER} is not readable JSON: {exc}"]
    if not isinstance(data, dict):
        return [f"/{MARKER} is not a JSON object"]
    problems = []
    if data.get("name") != name:
        problems.append(f"/{MARKER} names {data.get('name')!r}, not {name!r}")
    if not isinstance(data.get("version"), str):
        problems.append(f"/{MARKER} has no version")
    if built_at is not None and data.get("built_at") != built_at:
        problems.append(f"/{MARKER} says built at {data.get('built_at')!r}, not {built_at!r}")
    return problems


# --- the store ----------------------------------------------------------------------------


class ImageStore:
    """Managed images under `cache_dir`, built on first use and shared by every data dir."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        # Both caches are keyed by what a change on disk would alter (inode, mtime, size), so
        # a readiness probe costs a few lstat calls: ~10 us against ~200 us for a full check.
        self._images: dict[str, tuple[_Stamp, Image]] = {}
        self._checks: dict[tuple[str, tuple[Path, ...], str], _Checked] = {}

    def names(self) -> list[str]:
        """The managed image names."""
        return list(MANAGED)

    def get(self, name: str) -> Image | None:
        """The built image called `name` if it is there and valid, else None."""
        if name not in MANAGED:
            return None
        home = self.cache_dir / name
        stamp = _stamp(os.path.join(home, META))  # noqa: PTH118 - a str is what lstat wants
        cached = self._images.get(name)
        if cached is not None and stamp is not None and cached[0] == stamp:
            image = cached[1]
        else:
            try:
                meta = json.loads((home / META).read_text())
                image = Image(
                    name=name,
                    layers=tuple(home / layer for layer in meta["layers"]),
                    built_at=str(meta["built_at"]),
                    size_bytes=int(meta["size_bytes"]),
                )
            except (OSError, ValueError, KeyError, TypeError):
                return None
            if stamp is not None:
                self._images[name] = (stamp, image)
        return image if self.validate(image).valid else None

    def validate(self, image: Image) -> ImageCheck:
        """Check `image` against the contract; cached until its marker or key dirs change."""
        key = (image.name, image.layers, image.built_at)
        cached = self._checks.get(key)
        if cached is not None and _stamps(cached.watched) == cached.stamps:
            return cached.check
        watched = tuple(
            os.path.join(layer, rel)  # noqa: PTH118 - strs, joined once per image
            for layer in image.layers
            for rel in _WATCHED
        )
        stamps = _stamps(watched)
        check = check_contract(image.name, image.layers, image.built_at)
        self._checks[key] = _Checked(watched, stamps, check)
        return check

    def ensure(self, name: str, *, progress: Callable[[str], None] | None = None) -> Image:
        """The image called `name`, built first if it is missing or broken.

        One builder at a time per name, across processes (flock); the build happens in a
        temporary directory beside the final one and appears by an atomic rename.
        """
        if name not in MANAGED:
            raise NotFound(
                f"image {name!r} does not exist",
                details={"expected": list(MANAGED), "received": name},
            )
        image = self.get(name)
        if image is not None:
            return image
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with exclusive(self.cache_dir / f"{name}.lock"):
            image = self.get(name)  # another builder may have finished while we waited
            if image is None:
                self._build(name, progress or _ignore)
                image = self.get(name)
        if image is None:
            raise HostError(f"image {name!r} was built but is not valid")
        return image

    def _build(self, name: str, progress: Callable[[str], None]) -> None:
        """Build `name` into a staging dir, check it, then swap it in (caller holds the lock)."""
        for stale in self.cache_dir.glob(f".{name}.*"):
            _remove(stale)  # left by a builder that died; nobody else holds the lock
        progress(f"building image {name}")
        started = time.monotonic()
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.build-", dir=self.cache_dir))
        try:
            size = _stage(name, staging, progress)
            os.sync()  # the rename below must not reach the disk before the files it publishes
            replaced = self._publish(name, staging)
        except BaseException:
            _remove(staging)
            raise
        if replaced is not None:
            with contextlib.suppress(HostError, OSError):  # else the next build sweeps it
                _remove(replaced)
        progress(f"built image {name} in {time.monotonic() - started:.1f} s ({size >> 20} MiB)")

    def _publish(self, name: str, staging: Path) -> Path | None:
        """Rename `staging` into place; the broken image it replaces (moved aside), if any."""
        final = self.cache_dir / name
        if not final.exists():
            staging.rename(final)
            return None
        # A broken image is being replaced: containers still on it lose their lower layer,
        # but they were already running on a broken image.
        old = final.with_name(f".{name}.old-{os.getpid()}")
        final.rename(old)
        staging.rename(final)
        return old


def _stage(name: str, staging: Path, progress: Callable[[str], None]) -> int:
    """Run the recipe into `staging`, mark and check the result, describe it; its size."""
    staging.chmod(0o755)
    rootfs = staging / ROOTFS
    RECIPES[name](rootfs, progress)
    built_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    (rootfs / MARKER).write_text(marker_text(name, built_at))
    check = check_contract(name, [rootfs], built_at)
    if not check.valid:
        raise HostError(f"image {name!r} failed its contract: {'; '.join(check.problems)}")
    size = _du(rootfs)
    meta = {"name": name, "layers": [ROOTFS], "built_at": built_at, "size_bytes": size}
    (staging / META).write_text(json.dumps(meta, indent=2) + "\n")
    return size


# --- recipes ------------------------------------------------------------------------------


def build_busybox(rootfs: Path, progress: Callable[[str], None]) -> None:
    """A tiny root filesystem from the host's static busybox: every applet, /bin/sh, /etc."""
    binary = Path("/bin/busybox")
    if not binary.exists():
        raise HostError("/bin/busybox is missing", hint="apt-get install busybox-static")
    with binary.open("rb") as f:
        if not elf_is_static(f.read(4096)):
            raise HostError(
                f"{binary} is dynamically linked and cannot run alone in an image",
                hint="apt-get install busybox-static",
            )
    for directory in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "dev", "proc", "sys", "run"):
        (rootfs / directory).mkdir(parents=True, exist_ok=True)
    for directory, mode in (("tmp", 0o1777), ("var/tmp", 0o1777), ("root", 0o700)):
        (rootfs / directory).mkdir(parents=True, exist_ok=True)
        (rootfs / directory).chmod(mode)  # mkdir's mode is filtered by the umask
    shutil.copy2(binary, rootfs / "bin/busybox")
    applets = run([str(binary), "--list-full"]).text.split()
    for applet in applets:
        link = rootfs / applet
        if applet != "bin/busybox" and not os.path.lexists(link):
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to("/bin/busybox")
    if not os.path.lexists(rootfs / "bin/sh"):
        (rootfs / "bin/sh").symlink_to("/bin/busybox")
    progress(f"linked {len(applets)} busybox applets")
    etc = rootfs / "etc"
    (etc / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    (etc / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    (etc / "hosts").write_text("127.0.0.1\tlocalhost\n::1\tlocalhost\n")
    (etc / "hostname").write_text("quilt\n")
    (etc / "resolv.conf").write_text(RESOLV_PLACEHOLDER)


def build_prod(rootfs: Path, progress: Callable[[str], None]) -> None:
    """Debian bookworm minbase plus a few tools, by mmdebstrap from the host's apt sources."""
    sources = host_apt_sources()
    if not sources:
        raise HostError("this host has no apt sources to build the prod image from")
    argv = [
        # A private mount namespace: the /proc, /sys and /dev mmdebstrap mounts into the
        # chroot die with it, even if the build is killed half-way.
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "mmdebstrap",
        "--mode=root",
        "--format=directory",
        "--variant=minbase",
        f"--include={','.join(PROD_PACKAGES)}",
        *([f"--hook-dir={MERGED_USR_HOOK}"] if MERGED_USR_HOOK.is_dir() else []),
        *(f"--dpkgopt={option}" for option in PROD_DPKG_OPTIONS),
        SUITE,
        str(rootfs),
        *(str(source) for source in sources),
    ]
    stream(argv, progress, timeout=PROD_BUILD_TIMEOUT)
    etc = rootfs / "etc"
    (etc / "resolv.conf").unlink(missing_ok=True)  # may be a copy of the host's, or a link
    (etc / "resolv.conf").write_text(RESOLV_PLACEHOLDER)
    (etc / "hostname").write_text("quilt\n")
    for pattern in (
        "var/lib/apt/lists/*_*",
        "var/cache/apt/*.bin",
        "var/cache/apt/archives/*.deb",
        "var/cache/debconf/*-old",
        "var/lib/dpkg/*-old",
        "var/log/apt/*",
        "var/log/*.log",
    ):
        for path in rootfs.glob(pattern):
            path.unlink()
    progress("cleaned apt lists and caches")


RECIPES: Final[dict[str, Callable[[Path, Callable[[str], None]], None]]] = {
    "prod": build_prod,
    "busybox": build_busybox,
}


# --- host helpers -------------------------------------------------------------------------


def stream(argv: Sequence[str], progress: Callable[[str], None], *, timeout: float) -> None:
    """Run a long command, handing each line it writes to `progress` as it arrives.

    `commands.run` collects output until the end; a 20 s build needs visible progress.
    Failures read like `run`'s: the command, its exit code and its last lines.
    """
    try:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
    except FileNotFoundError as exc:
        raise HostError(f"`{argv[0]}` is not installed on this host") from exc
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    tail: collections.deque[str] = collections.deque(maxlen=20)
    try:
        assert proc.stdout is not None  # noqa: S101 - stdout=PIPE above
        for raw in proc.stdout:
            # dpkg redraws progress with carriage returns; the last redraw is the news.
            line = raw.decode(errors="replace").rstrip().rsplit("\r", 1)[-1]
            tail.append(line)
            progress(line)
        code = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    if code != 0:
        raise HostError(describe_failure(argv, code, "\n".join(tail).encode()))


def _remove(path: Path) -> None:
    """Delete a staging or replaced image; refuse if anything is mounted inside it."""
    if not os.path.lexists(path):
        return
    inside = mounts_under(read_mountinfo(), str(path.resolve()))
    if inside:
        raise HostError(f"cannot delete {path}: {inside[0].mount_point} is mounted inside")
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


_Stamp = tuple[int, int, int]


@dataclass(frozen=True)
class _Checked:
    """A contract check and the stamps of the paths it depends on, when it was made."""

    watched: tuple[str, ...]
    stamps: tuple[_Stamp | None, ...]
    check: ImageCheck


def _stamp(path: str) -> _Stamp | None:
    """(inode, mtime, size) of `path` itself, or None if it is absent."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


def _stamps(paths: tuple[str, ...]) -> tuple[_Stamp | None, ...]:
    return tuple(_stamp(path) for path in paths)


def _du(root: Path) -> int:
    """Bytes allocated under `root`, hard links counted once."""
    seen: set[int] = set()
    total = 0
    for directory, dirnames, filenames in os.walk(root):
        for entry in (*dirnames, *filenames):
            info = os.lstat(os.path.join(directory, entry))  # noqa: PTH118 - hot loop
            if info.st_ino not in seen:
                seen.add(info.st_ino)
                total += info.st_blocks * 512
    return total


def _ignore(line: str) -> None:
    del line
