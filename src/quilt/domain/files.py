"""Paths inside a volume or container, file modes, and uploaded archives: pure rules, no I/O.

Paths are given from the tree's root (`/dir/file`, the leading `/` optional) and never
contain `..`. The archive routes take raw tar bytes (plain or compressed) with `path` and
`strip_components` as query parameters. Older clients send JSON instead, `{"content":
"<base64 tar.gz>", "path": …, "strip_components": …}`; both are accepted, nothing else is.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from typing import Final, Literal

from quilt.errors import BadRequest

MAX_PATH: Final = 4096
PERMISSIONS: Final = 0o777
MODE_BITS: Final = 0o7777

ArchiveKind = Literal["tar", "gzip", "bzip2", "xz"]
MAX_STRIP: Final = 64
TAR_BLOCK: Final = 512
_MAGIC: Final[tuple[tuple[bytes, ArchiveKind], ...]] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
)
JSON_TYPES: Final = ("application/json", "text/json")


def clean(path: str) -> str:
    """A path inside the tree as `a/b` (`.` for the root): leading `/` optional, no `..`."""
    if "\x00" in path:
        raise BadRequest("a path may not contain a NUL byte", details={"received": repr(path)})
    if len(path) > MAX_PATH:
        raise BadRequest(f"a path may be at most {MAX_PATH} bytes long")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BadRequest(
            "a path may not contain '..'",
            details={"received": path},
            hint="give the path from the root, e.g. /dir/file.txt",
        )
    return "/".join(parts) or "."


def shown(rel: str) -> str:
    """How a cleaned path is shown to users: absolute within the tree."""
    return "/" if rel == "." else f"/{rel}"


def split(rel: str) -> tuple[str, str]:
    """A cleaned path's parent (`.` at the top) and last component."""
    parent, _, name = rel.rpartition("/")
    return parent or ".", name


def file_mode(value: int | str) -> int:
    """A permission mode as users write it: 644 and 0o644 (420) both mean rw-r--r--.

    Integers above 0o777 are read as octal digits written in decimal (644, 755); smaller
    ones are taken as they are (420 from `0o644` in a client). Strings are octal.
    """
    text = value if isinstance(value, str) else (str(value) if value > PERMISSIONS else None)
    if text is None:
        mode = int(value)
    else:
        try:
            mode = int(text.removeprefix("0o"), 8)
        except ValueError:
            mode = -1
    if not 0 <= mode <= MODE_BITS:
        raise BadRequest(
            f"mode {value!r} is not a permission mode",
            details={"expected": ["octal digits such as 644 or 755"], "received": str(value)},
        )
    return mode


def strip_member(name: str, components: int) -> str | None:
    """An archive member's path with `components` leading parts dropped (None: nothing left).

    A leading `/` or `./` is dropped first, as tar does. Members naming `..` are refused.
    """
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError("the member's path contains '..'")
    rest = parts[components:]
    return "/".join(rest) if rest else None


@dataclass(frozen=True)
class Placement:
    """Where an archive's members land: a directory, minus leading path parts."""

    path: str
    strip_components: int


def sniff(head: bytes) -> ArchiveKind | None:
    """What kind of archive begins with `head` (its first 512 bytes), or None."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if len(head) < TAR_BLOCK:
        return None
    try:
        tarfile.TarInfo.frombuf(head[:TAR_BLOCK], "utf-8", "surrogateescape")
    except tarfile.TarError:
        return None
    return "tar"


def is_json(content_type: str | None, head: bytes) -> bool:
    """Whether a body is the older JSON form (by its type, or by its first byte)."""
    media = (content_type or "").split(";")[0].strip().lower()
    return media in JSON_TYPES or head.lstrip()[:1] == b"{"


def require_archive(head: bytes, size: int) -> ArchiveKind:
    """The kind of a raw body, or a 400 that says what to send instead."""
    kind = sniff(head) if size else None
    if kind is None:
        raise BadRequest(
            "the body is not a tar archive" if size else "the body is empty",
            details={"expected": ["application/x-tar", "application/gzip"]},
            hint="send the archive's raw bytes, e.g. `tar -cz . | curl --data-binary @- "
            "-H 'Content-Type: application/gzip' …/archive?path=/app`",
        )
    return kind


def placement(path: str | None, strip_components: int | None) -> Placement:
    """The target directory (default `/`) and the leading parts to drop (default 0)."""
    strip = 0 if strip_components is None else strip_components
    if not 0 <= strip <= MAX_STRIP:
        raise BadRequest(
            f"strip_components must be between 0 and {MAX_STRIP}",
            details={"received": str(strip_components)},
        )
    target = path or "/"
    if not target.startswith("/"):
        raise BadRequest(
            "path must be absolute", details={"expected": ["/app"], "received": target}
        )
    return Placement(target, strip)
