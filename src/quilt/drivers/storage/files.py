"""Files inside one confined directory tree: a volume, or a running container's root.

Every path is resolved by the kernel with openat2(2) and RESOLVE_IN_ROOT from a directory fd,
so `..` and symlinks, absolute or relative, can never lead outside the tree, even when a
process inside it swaps a directory for a symlink between two calls. The final component of a
path is only ever acted on relative to its opened parent (rename, unlink, symlink), so a link
there is replaced or removed, never followed out. Must not know what a volume or container is.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import stat
import tarfile
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Final, Literal, Self

from quilt.domain.files import MODE_BITS, shown, split, strip_member
from quilt.errors import (
    BadRequest,
    CapacityFull,
    Conflict,
    HostError,
    NotFound,
    QuiltError,
    QuotaExceeded,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

_SYS_OPENAT2: Final = 437  # the same number on every architecture (the unified syscall table)
RESOLVE_NO_MAGICLINKS: Final = 0x02
RESOLVE_IN_ROOT: Final = 0x10
_RESOLVE: Final = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS
_LIBC = ctypes.CDLL(None, use_errno=True)
_CHUNK: Final = 1 << 20
MAX_SKIPPED_LISTED: Final = 20

EntryType = Literal["file", "directory", "symlink", "other"]


class _OpenHow(ctypes.Structure):
    _fields_ = (
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    )


def openat2(dir_fd: int, path: str, flags: int, mode: int = 0) -> int:
    """Open `path` as if `dir_fd` were the root directory (the kernel's RESOLVE_IN_ROOT)."""
    how = _OpenHow(flags | os.O_CLOEXEC, mode, _RESOLVE)
    encoded = os.fsencode(path)
    for _ in range(16):  # EAGAIN: a rename raced the lookup somewhere in the tree; try again
        fd = int(
            _LIBC.syscall(_SYS_OPENAT2, dir_fd, encoded, ctypes.byref(how), ctypes.sizeof(how))
        )
        if fd >= 0:
            return fd
        code = ctypes.get_errno()
        if code != errno.EAGAIN:
            raise OSError(code, os.strerror(code), path)
    raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN), path)


# --- entries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One file, directory or link in the tree, as `lstat` sees it."""

    name: str
    path: str
    type: EntryType
    size: int
    mode: int
    mtime: float
    link_target: str | None = None

    @property
    def modified_at(self) -> str:
        """The modification time, RFC 3339 UTC."""
        return datetime.fromtimestamp(self.mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entry_type(mode: int) -> EntryType:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def _entry(path: str, info: os.stat_result, link_target: str | None = None) -> Entry:
    return Entry(
        name=path.rsplit("/", 1)[-1] or "/",
        path=path,
        type=_entry_type(info.st_mode),
        size=info.st_size,
        mode=stat.S_IMODE(info.st_mode),
        mtime=info.st_mtime,
        link_target=link_target,
    )


@dataclass
class Unpacked:
    """What an archive extraction did."""

    files: int = 0
    directories: int = 0
    symlinks: int = 0
    hardlinks: int = 0
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)
    skipped_count: int = 0

    def count(self, member: tarfile.TarInfo) -> None:
        """Count one placed member."""
        if member.isdir():
            self.directories += 1
        elif member.issym():
            self.symlinks += 1
        elif member.islnk():
            self.hardlinks += 1
        else:
            self.files += 1
            self.bytes += member.size

    def skip(self, name: str, why: str) -> None:
        """Note one skipped member (the first few are listed by name)."""
        self.skipped_count += 1
        if len(self.skipped) < MAX_SKIPPED_LISTED:
            self.skipped.append(f"{name}: {why}")


# What the kernel says about a path, in the one error tree: (error, message, hint).
_ERRORS: Final[dict[int, tuple[type[QuiltError], str, str | None]]] = {
    errno.ENOENT: (NotFound, "{where} does not exist in {label}", None),
    errno.ENOTDIR: (BadRequest, "a part of {where} is not a directory in {label}", None),
    errno.EEXIST: (BadRequest, "{where} already exists in {label}", None),
    errno.EISDIR: (BadRequest, "{where} is a directory in {label}", None),
    errno.ENOTEMPTY: (
        Conflict,
        "{where} is a directory that is not empty",
        "pass recursive=true to delete it with everything in it",
    ),
    errno.ELOOP: (BadRequest, "{where} goes through too many symbolic links in {label}", None),
    errno.EROFS: (Conflict, "{where} is on a read-only mount in {label}", None),
    errno.EDQUOT: (
        QuotaExceeded,
        "{label} has reached its size limit",
        "delete files, or use a volume with a larger size_limit_mb",
    ),
    errno.ENOSPC: (
        CapacityFull,
        "the storage pool is full",
        "free space: delete volumes, snapshots or containers",
    ),
    errno.ENAMETOOLONG: (BadRequest, "a name in {where} is too long", None),
}


# --- the tree -----------------------------------------------------------------------------


class Tree:
    """A directory tree that paths cannot leave; owns one directory fd until `close`.

    `label` names the tree in error messages ("volume data", "container c-1").
    """

    def __init__(self, fd: int, label: str) -> None:
        self.fd = fd
        self.label = label

    @classmethod
    def open(cls, root: Path, label: str) -> Tree:
        """Open the tree at `root` (`/proc/<pid>/root` reaches a container's own mounts)."""
        try:
            fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError as exc:
            raise NotFound(f"{label} is not there any more") from exc
        except OSError as exc:
            raise HostError(f"open({root}) failed: {exc.strerror}") from exc
        return cls(fd, label)

    def close(self) -> None:
        """Let go of the tree's directory fd (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lookups ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _opened(self, rel: str, flags: int, mode: int = 0) -> Iterator[int]:
        fd = self._open(rel, flags, mode)
        try:
            yield fd
        finally:
            os.close(fd)

    def _open(self, rel: str, flags: int, mode: int = 0) -> int:
        with self._errors(rel):
            return openat2(self.fd, rel, flags, mode)

    @contextlib.contextmanager
    def _errors(self, rel: str) -> Iterator[None]:
        """Turn what the kernel said about `rel` into the one error tree."""
        try:
            yield
        except QuiltError:
            raise
        except OSError as exc:
            raise self._error(rel, exc) from exc

    def _error(self, rel: str, exc: OSError) -> QuiltError:
        where, label = shown(rel), self.label
        known = _ERRORS.get(exc.errno or 0)
        if known is None:
            return HostError(f"{exc.strerror} on {where} in {label}")
        kind, message, hint = known
        return kind(message.format(where=where, label=label), hint=hint)

    def _parent(self, rel: str) -> tuple[int, str]:
        """An fd on `rel`'s parent directory (the caller closes it) and `rel`'s last part."""
        if rel == ".":
            raise BadRequest(f"the root of {self.label} cannot be replaced or removed")
        parent, name = split(rel)
        return self._open(parent, os.O_RDONLY | os.O_DIRECTORY), name

    def stat(self, rel: str) -> Entry:
        """The entry at `rel`, not following a final symlink."""
        fd, name = self._parent(rel) if rel != "." else (os.dup(self.fd), ".")
        try:
            with self._errors(rel):
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                target = os.readlink(name, dir_fd=fd) if stat.S_ISLNK(info.st_mode) else None
        finally:
            os.close(fd)
        return _entry(shown(rel), info, target)

    def list(self, rel: str) -> list[Entry]:
        """The entries of directory `rel`, by name."""
        with self._opened(rel, os.O_RDONLY | os.O_DIRECTORY) as fd, self._errors(rel):
            entries = []
            base = "" if rel == "." else f"/{rel}"
            for item in os.scandir(fd):
                info = item.stat(follow_symlinks=False)
                target = os.readlink(item.name, dir_fd=fd) if item.is_symlink() else None
                entries.append(_entry(f"{base}/{item.name}", info, target))
        entries.sort(key=lambda e: e.name)
        return entries

    def open_directory(self, rel: str) -> int:
        """An fd on directory `rel` (the caller closes it)."""
        return self._open(rel, os.O_RDONLY | os.O_DIRECTORY)

    def open_file(self, rel: str) -> tuple[int, Entry]:
        """An fd to read regular file `rel` from (the caller closes it), and its entry."""
        fd = self._open(rel, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode):
            return fd, _entry(shown(rel), info)
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise BadRequest(f"{shown(rel)} is {kind} in {self.label}")

    # -- changes ----------------------------------------------------------------------

    def makedirs(self, rel: str, mode: int = 0o755) -> None:
        """`mkdir -p rel` inside the tree (existing directories, and links to them, are kept)."""
        if rel == ".":
            return
        parts = rel.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if self._is_directory(prefix):
                continue
            fd, name = self._parent(prefix)
            try:
                with self._errors(prefix):
                    os.mkdir(name, mode, dir_fd=fd)
            except BadRequest:  # EEXIST: a link stands there whose target is not in the tree
                if not self._is_directory(prefix):
                    raise BadRequest(
                        f"{shown(prefix)} is a symbolic link to nothing inside {self.label}"
                    ) from None
            finally:
                os.close(fd)

    def _is_directory(self, rel: str) -> bool:
        """Whether `rel` leads to a directory (False if nothing is there)."""
        try:
            os.close(openat2(self.fd, rel, os.O_PATH | os.O_DIRECTORY))
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise self._error(rel, exc) from exc
        return True

    def write(self, rel: str, data: bytes, mode: int) -> Entry:
        """Replace (or create) file `rel` with `data` atomically, making parent directories."""
        self.makedirs(split(rel)[0])
        fd, name = self._parent(rel)
        temp = f".{name[:200]}.quilt-{os.getpid()}-{time.monotonic_ns()}"
        try:
            with self._errors(rel):
                out = os.open(
                    temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600, dir_fd=fd
                )
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(out, view[:_CHUNK]) :]
                    os.fchmod(out, mode)
                    os.fdatasync(out)
                finally:
                    os.close(out)
                os.rename(temp, name, src_dir_fd=fd, dst_dir_fd=fd)
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=fd)
            raise
        finally:
            os.close(fd)
        return _entry(shown(rel), info)

    def remove(self, rel: str, *, recursive: bool) -> Entry:
        """Delete file, link or directory `rel` (a non-empty directory only if `recursive`)."""
        entry = self.stat(rel)
        fd, name = self._parent(rel)
        try:
            with self._errors(rel):
                if entry.type != "directory":
                    os.unlink(name, dir_fd=fd)
                elif recursive:
                    shutil.rmtree(name, dir_fd=fd)
                else:
                    os.rmdir(name, dir_fd=fd)
        finally:
            os.close(fd)
        return entry

    # -- archives ---------------------------------------------------------------------

    def unpack(
        self,
        archive: IO[bytes],
        dest: str,
        *,
        strip_components: int = 0,
        progress: Callable[[], None] | None = None,
    ) -> Unpacked:
        """Extract a tar (plain, gzip, bzip2 or xz) into directory `dest` of the tree.

        Members are written as root would with `tar --numeric-owner`: modes, owners and
        times kept. Device nodes, members naming `..` and members that cannot be placed (a
        file where a directory stands) are skipped and reported, as tar goes on past them.
        Directory modes and times are set last, so read-only directories still fill.
        """
        self.makedirs(dest)
        done = Unpacked()
        directories: list[tuple[str, tarfile.TarInfo]] = []
        try:
            with tarfile.open(fileobj=archive, mode="r|*") as stream:
                for member in stream:
                    if progress is not None:
                        progress()
                    rel = self._place(stream, member, dest, strip_components, done)
                    if rel is not None and member.isdir():
                        directories.append((rel, member))
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise BadRequest(f"the body is not a readable tar archive: {exc}") from exc
        for rel, member in reversed(directories):
            self._finish(rel, member)
        return done

    def _place(
        self,
        stream: tarfile.TarFile,
        member: tarfile.TarInfo,
        dest: str,
        strip_components: int,
        done: Unpacked,
    ) -> str | None:
        """Place one member and count it; where it went, or None if skipped."""
        try:
            rest = strip_member(member.name, strip_components)
        except ValueError as exc:
            done.skip(member.name, str(exc))
            return None
        if rest is None:
            return None
        rel = rest if dest == "." else f"{dest}/{rest}"
        try:
            why = self._unpack_member(stream, member, rel, dest, strip_components)
        except (BadRequest, NotFound) as exc:
            why = exc.message
        if why is not None:
            done.skip(member.name, why)
            return None
        done.count(member)
        return rel

    def _unpack_member(
        self,
        stream: tarfile.TarFile,
        member: tarfile.TarInfo,
        rel: str,
        dest: str,
        strip_components: int,
    ) -> str | None:
        """Place one member at `rel`; the reason it was skipped, if it was."""
        if member.isdir():
            self.makedirs(rel, 0o700)
        elif member.isreg():
            source = stream.extractfile(member)
            if source is None:
                return "it has no data"
            self._unpack_file(rel, member, source)
        elif member.issym():
            self._unpack_link(rel, member)
        elif member.islnk():
            target = strip_member(member.linkname, strip_components)
            if target is None:
                return "its link target is not extracted"
            self._unpack_hardlink(rel, target if dest == "." else f"{dest}/{target}")
        elif member.isfifo():
            self._replace(rel, lambda fd, name: os.mkfifo(name, member.mode & MODE_BITS, dir_fd=fd))
        else:
            return "device nodes are not extracted"
        return None

    def _replace(self, rel: str, make: Callable[[int, str], None]) -> None:
        """Make `rel` anew with `make(parent_fd, name)`, removing a non-directory there first."""
        self.makedirs(split(rel)[0])
        fd, name = self._parent(rel)
        try:
            with self._errors(rel):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=fd)  # EISDIR: a directory stands there; skip
                make(fd, name)
        finally:
            os.close(fd)

    def _unpack_file(self, rel: str, member: tarfile.TarInfo, source: IO[bytes]) -> None:
        def make(fd: int, name: str) -> None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            with os.fdopen(os.open(name, flags, 0o600, dir_fd=fd), "wb") as out:
                shutil.copyfileobj(source, out, _CHUNK)
                out.flush()  # before the times are set: a later write would move them
                os.fchown(out.fileno(), member.uid, member.gid)
                os.fchmod(out.fileno(), member.mode & MODE_BITS)
                os.utime(out.fileno(), (member.mtime, member.mtime))

        self._replace(rel, make)

    def _unpack_link(self, rel: str, member: tarfile.TarInfo) -> None:
        def make(fd: int, name: str) -> None:
            os.symlink(member.linkname, name, dir_fd=fd)
            os.chown(name, member.uid, member.gid, dir_fd=fd, follow_symlinks=False)
            os.utime(name, (member.mtime, member.mtime), dir_fd=fd, follow_symlinks=False)

        self._replace(rel, make)

    def _unpack_hardlink(self, rel: str, target: str) -> None:
        source_fd, source_name = self._parent(target)
        try:
            self._replace(
                rel,
                lambda fd, name: os.link(
                    source_name, name, src_dir_fd=source_fd, dst_dir_fd=fd, follow_symlinks=False
                ),
            )
        finally:
            os.close(source_fd)

    def _finish(self, rel: str, member: tarfile.TarInfo) -> None:
        with self._opened(rel, os.O_RDONLY | os.O_DIRECTORY) as fd, self._errors(rel):
            os.fchown(fd, member.uid, member.gid)
            os.fchmod(fd, member.mode & MODE_BITS)
            os.utime(fd, (member.mtime, member.mtime))
