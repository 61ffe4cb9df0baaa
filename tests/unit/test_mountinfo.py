"""Parsing /proc/self/mountinfo and the other pure helpers of the storage pool."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from quilt.drivers.storage import pool
from quilt.errors import BadRequest

ROOT = "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard"
PROC = "23 22 0:21 / /proc rw,nosuid - proc proc rw"
POOL = (
    r"44 22 0:39 / /var/lib/my\040data/pool rw,noatime shared:7 master:2 - btrfs /dev/loop0"
    " rw,discard=async,space_cache=v2,subvolid=5,subvol=/"
)


def test_line_with_optional_fields() -> None:
    """Optional fields end at the lone dash; the fields after it are fstype, source, options."""
    entry = pool.parse_mountinfo_line(POOL)
    assert entry.mount_id == 44
    assert entry.parent_id == 22
    assert entry.device == "0:39"
    assert entry.mount_point == "/var/lib/my data/pool"
    assert entry.optional == ("shared:7", "master:2")
    assert entry.fstype == "btrfs"
    assert entry.source == "/dev/loop0"
    assert entry.super_options.startswith("rw,discard=async")


def test_line_without_optional_fields() -> None:
    """A mount with no propagation tags parses the same way."""
    entry = pool.parse_mountinfo_line(PROC)
    assert (entry.mount_point, entry.fstype, entry.source, entry.optional) == (
        "/proc",
        "proc",
        "proc",
        (),
    )


def test_octal_escapes_are_undone() -> None:
    """Space, tab, newline and backslash come back from their octal escapes; nothing else."""
    assert pool.unescape_mountinfo(r"/a\040b\011c\012d\134e") == "/a b\tc\nd\\e"
    assert pool.unescape_mountinfo(r"/plain\x") == r"/plain\x"


def test_garbage_is_rejected() -> None:
    """A line without the separator is an error, not a half-filled entry."""
    with pytest.raises(ValueError, match="not a mountinfo line"):
        pool.parse_mountinfo_line("1 2 3:4 / /x rw shared:1")


def test_whole_file_keeps_the_kernel_order() -> None:
    """Blank lines are skipped and the order is kept (later mounts sit on top)."""
    entries = pool.parse_mountinfo(f"{ROOT}\n\n{PROC}\n{POOL}\n")
    assert [e.mount_id for e in entries] == [22, 23, 44]


def test_mount_containing_prefers_the_longest_mount_point() -> None:
    """A path lives on the deepest mount above it, never on a sibling sharing a name prefix."""
    entries = pool.parse_mountinfo(f"{ROOT}\n{PROC}\n{POOL}\n")
    inside = pool.mount_containing(entries, "/var/lib/my data/pool/containers/x")
    beside = pool.mount_containing(entries, "/var/lib/my data/pool2")
    assert inside is not None
    assert inside.fstype == "btrfs"
    assert beside is not None
    assert beside.fstype == "ext4"


def test_stacked_mounts_resolve_to_the_top_one() -> None:
    """Two mounts at one point: the later line is the one a path resolves to."""
    under = "50 22 0:40 / /data rw - tmpfs tmpfs rw"
    over = "51 50 0:41 / /data rw - btrfs /dev/loop1 rw"
    entries = pool.parse_mountinfo(f"{ROOT}\n{under}\n{over}\n")
    assert [e.mount_id for e in pool.mounts_at(entries, "/data")] == [50, 51]
    top = pool.mount_containing(entries, "/data/x")
    assert top is not None
    assert top.mount_id == 51


def test_mounts_under_lists_deepest_first() -> None:
    """Mounts inside a tree come deepest first, the order they must be unmounted in."""
    lines = [
        ROOT,
        "60 22 0:50 / /t rw - tmpfs tmpfs rw",
        "61 60 0:51 / /t/a/b rw - tmpfs tmpfs rw",
        "62 60 0:52 / /t/a rw - tmpfs tmpfs rw",
        "63 22 0:53 / /tx rw - tmpfs tmpfs rw",
    ]
    found = pool.mounts_under(pool.parse_mountinfo("\n".join(lines)), "/t")
    assert [e.mount_point for e in found] == ["/t/a/b", "/t/a", "/t"]


@pytest.mark.parametrize("rel", ["", "/abs", "../up", "a/../../b", ".", "a/.."])
def test_pool_paths_cannot_leave_the_pool(rel: str) -> None:
    """Absolute, empty or `..` paths are refused before any syscall sees them."""
    with pytest.raises(BadRequest):
        pool.pool_relative(Path("/pool"), rel)


def test_pool_paths_are_normalised() -> None:
    """Redundant slashes and `.` parts are dropped."""
    assert pool.pool_relative(Path("/pool"), "containers//c1/./upper") == Path(
        "/pool/containers/c1/upper"
    )


def test_ioctl_arguments_match_the_kernel_structs() -> None:
    """Both btrfs argument structs are one page with the name where linux/btrfs.h puts it."""
    plain = pool.vol_args("ctr_1")
    assert len(plain) == 4096
    assert plain[8:14] == b"ctr_1\0"
    v2 = pool.vol_args_v2(7, "snap", readonly=True)
    assert len(v2) == 4096
    fd, transid, flags = struct.unpack_from("qQQ", v2)
    assert (fd, transid, flags) == (7, 0, 2)
    assert v2[56:61] == b"snap\0"
    assert struct.unpack_from("qQQ", pool.vol_args_v2(7, "s", readonly=False))[2] == 0
    assert pool.IOC_SUBVOL_CREATE == 0x5000940E
    assert pool.IOC_SNAP_CREATE_V2 == 0x50009417


@pytest.mark.parametrize("name", ["", "a/b", "x" * 4040])
def test_subvolume_names_are_checked(name: str) -> None:
    """A name with a slash, or too long for the struct, never reaches the kernel."""
    with pytest.raises(BadRequest):
        pool.vol_args_v2(3, name, readonly=False)
