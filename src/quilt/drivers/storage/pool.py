"""The copy-on-write storage pool: btrfs subvolumes for uppers, snapshots and volumes.

Owns mounting the pool (a loop-mounted btrfs image unless the data dir is btrfs already) and
every subvolume operation in it. Must not know what a container, snapshot or volume is.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from quilt import logs
from quilt.drivers.commands import run
from quilt.drivers.locking import exclusive
from quilt.errors import BadRequest, HostError, ServiceUnavailable

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

log = logs.get(__name__)

POOL_DIR: Final = "pool"
POOL_IMAGE: Final = "pool.img"
LOCK_FILE: Final = ".pool.lock"
MOUNTINFO: Final = Path("/proc/self/mountinfo")

# linux/btrfs.h: ioctls on a directory fd. `btrfs subvolume create` costs ~1.4 ms here (a fork
# and exec of btrfs-progs); the ioctl it wraps costs ~0.03 ms, and container create waits on it.
_BTRFS_IOCTL_MAGIC: Final = 0x94
_VOL_ARGS_SIZE: Final = 4096  # struct btrfs_ioctl_vol_args and _v2 are both one page
_VOL_NAME_MAX: Final = 4039  # the v2 struct's name field is 4040 bytes including the NUL
_SUBVOL_RDONLY: Final = 1 << 1  # BTRFS_SUBVOL_RDONLY
# The root directory of every subvolume has this inode number (BTRFS_FIRST_FREE_OBJECTID);
# nothing else in a subvolume does, which is how nested subvolumes are found.
SUBVOLUME_ROOT_INODE: Final = 256
_OCTAL_ESCAPE: Final = re.compile(r"\\([0-7]{3})")


_IOW: Final = 1
_IOR: Final = 2


def _ioc(direction: int, number: int, size: int) -> int:
    """`_IOC(direction, BTRFS_IOCTL_MAGIC, number, size)` from asm-generic/ioctl.h."""
    return (direction << 30) | (size << 16) | (_BTRFS_IOCTL_MAGIC << 8) | number


IOC_SUBVOL_CREATE: Final = _ioc(_IOW, 14, _VOL_ARGS_SIZE)
IOC_SNAP_DESTROY: Final = _ioc(_IOW, 15, _VOL_ARGS_SIZE)
IOC_SNAP_CREATE_V2: Final = _ioc(_IOW, 23, _VOL_ARGS_SIZE)
IOC_SUBVOL_SETFLAGS: Final = _ioc(_IOW, 26, 8)  # a __u64 of BTRFS_SUBVOL_* flags
IOC_QUOTA_CTL: Final = _ioc(_IOW | _IOR, 40, 16)  # _IOWR, struct btrfs_ioctl_quota_ctl_args
IOC_QGROUP_LIMIT: Final = _ioc(_IOR, 43, 48)  # _IOR (sic), struct btrfs_ioctl_qgroup_limit_args
QUOTA_ENABLE: Final = 1  # BTRFS_QUOTA_CTL_ENABLE: full qgroups, shared extents tracked
QUOTA_ENABLE_SIMPLE: Final = 4  # BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA (Linux 6.7+)
QGROUP_LIMIT_MAX_RFER: Final = 1  # BTRFS_QGROUP_LIMIT_MAX_RFER

Backend = Literal["btrfs", "directory"]
QuotaKind = Literal["simple", "full"]


# --- pure helpers -------------------------------------------------------------------------


@dataclass(frozen=True)
class MountEntry:
    """One line of /proc/<pid>/mountinfo (see proc(5)), unescaped."""

    mount_id: int
    parent_id: int
    device: str
    root: str
    mount_point: str
    options: str
    fstype: str
    source: str
    super_options: str
    optional: tuple[str, ...] = field(default=())


def unescape_mountinfo(text: str) -> str:
    r"""Undo the kernel's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134`)."""
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), text)


def parse_mountinfo_line(line: str) -> MountEntry:
    """Parse one mountinfo line; optional fields (`shared:1`...) end at the lone `-`."""
    fields = line.rstrip("\n").split(" ")
    try:
        dash = fields.index("-", 6)
        mount_id, parent_id, device, root, mount_point, options = fields[:6]
        fstype, source, super_options = fields[dash + 1 : dash + 4]
    except ValueError as exc:
        raise ValueError(f"not a mountinfo line: {line!r}") from exc
    return MountEntry(
        mount_id=int(mount_id),
        parent_id=int(parent_id),
        device=device,
        root=unescape_mountinfo(root),
        mount_point=unescape_mountinfo(mount_point),
        options=options,
        fstype=unescape_mountinfo(fstype),
        source=unescape_mountinfo(source),
        super_options=super_options,
        optional=tuple(fields[6:dash]),
    )


def parse_mountinfo(text: str) -> list[MountEntry]:
    """Parse a whole mountinfo file, in the kernel's order (a later mount sits on top)."""
    return [parse_mountinfo_line(line) for line in text.splitlines() if line.strip()]


def _within(path: str, mount_point: str) -> bool:
    return mount_point in {"/", path} or path.startswith(mount_point + "/")


def mounts_at(entries: Sequence[MountEntry], path: str) -> list[MountEntry]:
    """The mounts stacked exactly at `path`, bottom first."""
    return [e for e in entries if e.mount_point == path]


def mount_containing(entries: Sequence[MountEntry], path: str) -> MountEntry | None:
    """The mount that `path` (absolute, resolved) lives on: longest mount point, topmost."""
    best: MountEntry | None = None
    for entry in entries:
        if _within(path, entry.mount_point) and (
            best is None or len(entry.mount_point) >= len(best.mount_point)
        ):
            best = entry
    return best


def mounts_under(entries: Sequence[MountEntry], path: str) -> list[MountEntry]:
    """Mounts at `path` or below it, deepest first (the order to unmount them in)."""
    found = [e for e in entries if e.mount_point != "/" and _within(e.mount_point, path)]
    return sorted(found, key=lambda e: e.mount_point.count("/"), reverse=True)


def pool_relative(root: Path, rel: str) -> Path:
    """`root / rel` for a relative path that cannot leave `root` (no `..`, not absolute)."""
    parts = [p for p in rel.split("/") if p not in {"", "."}]
    if not parts or rel.startswith("/") or ".." in parts:
        raise BadRequest(f"storage path {rel!r} must be relative and stay inside the pool")
    return root.joinpath(*parts)


def vol_args(name: str) -> bytearray:
    """`struct btrfs_ioctl_vol_args {s64 fd; char name[4088];}` naming an entry of the fd."""
    return bytearray(struct.pack("q4088s", 0, _ioctl_name(name)))


def vol_args_v2(source_fd: int, name: str, *, readonly: bool) -> bytearray:
    """`struct btrfs_ioctl_vol_args_v2` for a snapshot of `source_fd` called `name`."""
    flags = _SUBVOL_RDONLY if readonly else 0
    # fd, transid, flags, 32-byte union (qgroup inherit: unused), name[4040]
    return bytearray(struct.pack("qQQ32s4040s", source_fd, 0, flags, b"", _ioctl_name(name)))


def qgroup_limit_args(limit_bytes: int) -> bytearray:
    """`struct btrfs_ioctl_qgroup_limit_args` capping the fd's own subvolume (qgroupid 0)."""
    return bytearray(struct.pack("=QQQQQQ", 0, QGROUP_LIMIT_MAX_RFER, limit_bytes, 0, 0, 0))


def _ioctl_name(name: str) -> bytes:
    raw = os.fsencode(name)
    if not raw or b"/" in raw or b"\0" in raw or len(raw) > _VOL_NAME_MAX:
        raise BadRequest(f"{name!r} is not a valid subvolume name")
    return raw


# --- host state ---------------------------------------------------------------------------


def read_mountinfo() -> list[MountEntry]:
    """The mounts of this process's mount namespace."""
    return parse_mountinfo(os.fsdecode(MOUNTINFO.read_bytes()))


def _loop_devices(image: Path) -> list[str]:
    """Loop devices backed by `image` (`losetup -j` prints `/dev/loopN: [...]:ino (path)`)."""
    if not image.exists():
        return []
    out = run(["losetup", "-j", str(image)]).text
    return [line.split(":", 1)[0] for line in out.splitlines() if line.startswith("/dev/")]


def _unmount(path: str) -> None:
    """Unmount `path`; detach lazily if something still holds it (it frees itself later)."""
    done = run(["umount", path], check=False)
    if done.returncode != 0:
        log.warning("storage.lazy_unmount", path=path, reason=done.stderr.decode().strip())
        run(["umount", "--lazy", path])


def _directory_holds_data(path: Path) -> bool:
    try:
        return any(path.iterdir())
    except FileNotFoundError:
        return False


class _BtrfsUnavailable(Exception):
    """btrfs cannot back the pool here; the message is the reason, for the operator."""


def _btrfs_hint(said: str) -> str:
    """Turn what mount/mkfs said into the fix an operator can apply."""
    if "unknown filesystem type" in said:
        return " (load the btrfs module: `modprobe btrfs`)"
    if "loop" in said:
        return " (no loop device: `modprobe loop`; in a container, expose /dev/loop-control)"
    return ""


def release(data_dir: Path) -> None:
    """Unmount the pool `StoragePool.open` mounted for `data_dir` and detach its loop device.

    Works from a fresh process: the mount is found in mountinfo and the loop device by its
    backing file. Mounts at the pool dir that are not our image (an operator's disk) stay.
    """
    data_dir = data_dir.resolve()
    image = data_dir / POOL_IMAGE
    if not image.exists():
        return
    root = str(data_dir / POOL_DIR)
    with exclusive(data_dir / LOCK_FILE):
        loops = set(_loop_devices(image))
        for entry in reversed(mounts_at(read_mountinfo(), root)):
            if entry.source in loops:
                _unmount(root)
        # `mount -o loop` sets LO_FLAGS_AUTOCLEAR, so the unmount normally freed the device;
        # this catches one left attached by a crash between losetup and mount.
        for device in _loop_devices(image):
            run(["losetup", "-d", device], check=False)


# --- the pool -----------------------------------------------------------------------------


@dataclass
class StoragePool:
    """A pool of subvolumes under `root`; `reason` says why it is not btrfs, if it is not."""

    backend: Backend
    root: Path
    reason: str | None = None
    data_dir: Path | None = None
    image: Path | None = None  # the loop-mounted image file, when the pool is one
    quotas: QuotaKind | None = None  # set once this process switched them on

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        size_gb: int = 64,
        backend: Literal["auto", "btrfs", "directory"] = "auto",
    ) -> StoragePool:
        """Open (mounting if needed) the pool of `data_dir`; safe to call again at any time.

        `size_gb` only applies when the image file is first created.
        """
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir = data_dir.resolve()
        root = data_dir / POOL_DIR
        with exclusive(data_dir / LOCK_FILE):
            if backend == "directory":
                root.mkdir(exist_ok=True)
                return cls("directory", root, "the directory backend was chosen", data_dir)
            try:
                return cls._open_btrfs(data_dir, root, size_gb)
            except _BtrfsUnavailable as exc:
                if backend == "btrfs":
                    raise ServiceUnavailable(
                        f"the btrfs storage pool is unavailable: {exc}",
                        hint="fix the cause above, or set QUILT_STORAGE_BACKEND=directory",
                    ) from exc
                root.mkdir(exist_ok=True)
                return cls("directory", root, str(exc), data_dir)

    @classmethod
    def _open_btrfs(cls, data_dir: Path, root: Path, size_gb: int) -> StoragePool:
        entries = read_mountinfo()
        image = data_dir / POOL_IMAGE
        stacked = mounts_at(entries, str(root))
        if stacked:
            if stacked[-1].fstype != "btrfs":
                raise _BtrfsUnavailable(f"{root} is a {stacked[-1].fstype} mount, not btrfs")
            owned = image if image.exists() else None
            return cls("btrfs", root, None, data_dir, owned)
        home = mount_containing(entries, str(data_dir))
        if home is not None and home.fstype == "btrfs":
            root.mkdir(exist_ok=True)
            return cls("btrfs", root, None, data_dir)
        # Mounting over a directory pool that already holds data would hide that data.
        if _directory_holds_data(root):
            raise _BtrfsUnavailable(f"{root} already holds a directory pool; it stays one")
        if not image.exists():
            cls._make_image(image, size_gb)
        else:
            # The pool is not mounted, so a loop device still on the image is a leftover (a
            # crash, a manual losetup); mount(8) would reuse it without autoclear.
            for device in _loop_devices(image):
                run(["losetup", "-d", device], check=False)
        root.mkdir(exist_ok=True)
        try:
            # util-linux sets LO_FLAGS_AUTOCLEAR on the loop device it attaches for `-o loop`:
            # the kernel detaches it by itself when the filesystem is unmounted.
            run(["mount", "-t", "btrfs", "-o", "loop,noatime", str(image), str(root)])
        except HostError as exc:
            raise _BtrfsUnavailable(f"{exc.message}{_btrfs_hint(exc.message)}") from exc
        return cls("btrfs", root, None, data_dir, image)

    @staticmethod
    def _make_image(image: Path, size_gb: int) -> None:
        """Create a sparse btrfs image; built under a temporary name so a crash leaves none."""
        partial = image.with_name(image.name + ".partial")
        partial.unlink(missing_ok=True)
        with partial.open("wb") as f:
            f.truncate(size_gb * 1024**3)
        try:
            run(["mkfs.btrfs", "-q", "-L", "quilt-pool", str(partial)], timeout=300)
        except HostError as exc:
            partial.unlink(missing_ok=True)
            raise _BtrfsUnavailable(f"{exc.message}{_btrfs_hint(exc.message)}") from exc
        partial.rename(image)

    def close(self) -> None:
        """Unmount the pool and detach its loop device (teardown only, never on shutdown)."""
        if self.image is not None and self.data_dir is not None:
            release(self.data_dir)

    # --- subvolumes ---

    def path(self, rel: str) -> Path:
        """The absolute path of `rel` inside the pool."""
        return pool_relative(self.root, rel)

    def exists(self, rel: str) -> bool:
        """Whether `rel` exists in the pool."""
        return os.path.lexists(self.path(rel))

    def create_subvolume(self, rel: str) -> Path:
        """Create an empty subvolume (a directory on the directory backend); parents as needed."""
        path = self.path(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.backend == "directory":
            try:
                path.mkdir()
            except FileExistsError as exc:
                raise HostError(f"cannot create {path}: it already exists") from exc
            return path
        with _dir_fd(path.parent) as parent:
            _ioctl(parent, IOC_SUBVOL_CREATE, vol_args(path.name), "SUBVOL_CREATE", path)
        return path

    def snapshot(self, src_rel: str, dst_rel: str, *, readonly: bool) -> Path:
        """Snapshot subvolume `src_rel` as `dst_rel`: O(1) on btrfs, a reflink copy otherwise.

        The directory backend cannot make a copy read-only for root, so there `readonly` is
        only a promise the caller keeps.
        """
        src, dst = self.path(src_rel), self.path(dst_rel)
        if not src.is_dir():
            raise HostError(f"cannot snapshot {src}: it is not a directory in the pool")
        if os.path.lexists(dst):
            raise HostError(f"cannot snapshot {src} to {dst}: it already exists")
        dst.parent.mkdir(parents=True, exist_ok=True)
        if self.backend == "directory":
            try:
                run(["cp", "-a", "--reflink=auto", "--", str(src), str(dst)], timeout=None)
            except HostError:
                self._remove_tree(dst)
                raise
            return dst
        with _dir_fd(src) as source, _dir_fd(dst.parent) as parent:
            args = vol_args_v2(source, dst.name, readonly=readonly)
            _ioctl(parent, IOC_SNAP_CREATE_V2, args, "SNAP_CREATE_V2", dst)
        return dst

    def set_readonly(self, rel: str) -> None:
        """Make subvolume `rel` read-only (on the directory backend, a promise kept by callers)."""
        if self.backend != "btrfs":
            return
        path = self.path(rel)
        with _dir_fd(path) as fd:
            flags = bytearray(struct.pack("=Q", _SUBVOL_RDONLY))
            _ioctl(fd, IOC_SUBVOL_SETFLAGS, flags, "SUBVOL_SETFLAGS", path)

    def limit_subvolume(self, rel: str, limit_bytes: int) -> None:
        """Cap the bytes subvolume `rel` may hold: past it, writes fail with EDQUOT.

        The cap is a btrfs qgroup limit. Quotas are switched on the first time a cap is set,
        and only on a pool image Quilt made: on a btrfs the operator owns, quotas are the
        operator's to enable. Simple quotas (Linux 6.7+) cost captures nothing measurable;
        older kernels get full qgroups, which slow snapshot deletion.
        """
        if self.backend != "btrfs":
            raise BadRequest(
                "size limits need the btrfs storage pool, and this server uses the directory "
                f"backend ({self.reason})",
                hint="create the volume without size_limit_mb",
            )
        if self.image is not None:
            self._enable_quotas()
        path = self.path(rel)
        with _dir_fd(path) as fd:
            try:
                fcntl.ioctl(fd, IOC_QGROUP_LIMIT, qgroup_limit_args(limit_bytes))
            except OSError as exc:
                if exc.errno == errno.ENOTCONN:
                    raise BadRequest(
                        f"size limits need btrfs quotas, which are off on the filesystem "
                        f"holding {self.root}",
                        hint=f"an operator can run `btrfs quota enable {self.root}`, or create "
                        "the volume without size_limit_mb",
                    ) from exc
                raise HostError(
                    f"ioctl BTRFS_IOC_QGROUP_LIMIT on {path} failed: {exc.strerror}"
                ) from exc

    def _enable_quotas(self) -> None:
        if self.quotas is not None:
            return
        with _dir_fd(self.root) as fd:
            kinds: tuple[tuple[QuotaKind, int], ...] = (
                ("simple", QUOTA_ENABLE_SIMPLE),
                ("full", QUOTA_ENABLE),
            )
            for kind, command in kinds:
                try:
                    fcntl.ioctl(fd, IOC_QUOTA_CTL, bytearray(struct.pack("=QQ", command, 0)))
                except OSError as exc:
                    if exc.errno == errno.EINVAL and kind == "simple":
                        continue  # a kernel before simple quotas
                    raise HostError(
                        f"ioctl BTRFS_IOC_QUOTA_CTL on {self.root} failed: {exc.strerror}"
                    ) from exc
                self.quotas = kind
                log.info("pool.quotas_enabled", kind=kind, root=str(self.root))
                return

    def delete_subvolume(self, rel: str) -> None:
        """Delete `rel` and every subvolume nested in it; nothing happens if it is absent."""
        path = self.path(rel)
        try:
            info = path.lstat()
        except FileNotFoundError:
            return
        if self.backend == "btrfs" and _is_subvolume(info):
            _destroy(path)
            return
        if self.backend == "btrfs" and stat.S_ISDIR(info.st_mode):
            for nested in _nested_subvolumes(path):
                _destroy(nested)
        self._remove_tree(path)

    def usage_bytes(self, rel: str) -> int:
        """Bytes allocated under `rel`, like `du -s` (shared extents counted in full)."""
        return allocated_bytes(self.path(rel))

    @staticmethod
    def _remove_tree(path: Path) -> None:
        """`rm -rf` that refuses to descend into something mounted below `path`."""
        if not os.path.lexists(path):
            return
        inside = mounts_under(read_mountinfo(), str(path))
        if inside:
            raise HostError(f"cannot delete {path}: {inside[0].mount_point} is mounted inside")
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


# --- btrfs syscalls -----------------------------------------------------------------------


@contextlib.contextmanager
def _dir_fd(path: Path) -> Iterator[int]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise HostError(f"open({path}, O_DIRECTORY) failed: {exc.strerror}") from exc
    try:
        yield fd
    finally:
        os.close(fd)


def _ioctl(fd: int, request: int, args: bytearray, name: str, target: Path) -> None:
    """Issue one btrfs ioctl; a failure names the ioctl, its target and a fix when known."""
    try:
        fcntl.ioctl(fd, request, args)
    except OSError as exc:
        hint = {
            errno.ENOTTY: " (the pool directory is not on btrfs)",
            errno.EEXIST: " (it already exists)",
            errno.ENOTEMPTY: " (it contains other subvolumes)",
            errno.EINVAL: " (the source is not a subvolume)",
        }.get(exc.errno or 0, "")
        raise HostError(f"ioctl BTRFS_IOC_{name} on {target} failed: {exc.strerror}{hint}") from exc


def _is_subvolume(info: os.stat_result) -> bool:
    return stat.S_ISDIR(info.st_mode) and info.st_ino == SUBVOLUME_ROOT_INODE


def _nested_subvolumes(top: Path) -> list[Path]:
    """Subvolumes below `top` (not below those: `_destroy` recurses into each)."""
    found: list[Path] = []
    stack = [top]
    while stack:
        for entry in os.scandir(stack.pop()):
            if not entry.is_dir(follow_symlinks=False):
                continue
            if entry.stat(follow_symlinks=False).st_ino == SUBVOLUME_ROOT_INODE:
                found.append(Path(entry.path))
            else:
                stack.append(Path(entry.path))
    return found


def _destroy(path: Path) -> None:
    """Delete one subvolume, and first any it holds (the kernel refuses those with ENOTEMPTY).

    Trying first means the common case, no nested subvolumes, pays nothing for the walk.
    """
    with _dir_fd(path.parent) as parent:
        try:
            fcntl.ioctl(parent, IOC_SNAP_DESTROY, vol_args(path.name))
        except OSError as exc:
            if exc.errno != errno.ENOTEMPTY:
                raise HostError(
                    f"ioctl BTRFS_IOC_SNAP_DESTROY on {path} failed: {exc.strerror}"
                ) from exc
        else:
            return
        for nested in _nested_subvolumes(path):
            _destroy(nested)
        _ioctl(parent, IOC_SNAP_DESTROY, vol_args(path.name), "SNAP_DESTROY", path)


def allocated_bytes(root: Path) -> int:
    """Bytes allocated under `root`, like `du -s` (0 if it is gone; hard links counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [root]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            total += info.st_blocks * 512
            if stat.S_ISDIR(info.st_mode):
                stack.append(Path(entry.path))
    return total
