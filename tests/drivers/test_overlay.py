"""Overlay root filesystems for real: lowers on the host disk, the upper in a btrfs pool.

Each test unmounts its overlays and releases its pool, then checks nothing is left mounted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from quilt.drivers.storage import overlay
from quilt.drivers.storage.pool import StoragePool, read_mountinfo, release
from quilt.errors import HostError

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.host


def mounts_below(path: Path) -> list[str]:
    """Mount points at or below `path`."""
    top = str(path.resolve())
    return [e.mount_point for e in read_mountinfo() if e.mount_point.startswith(top)]


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[StoragePool]:
    """A loop-mounted btrfs pool; overlays under tmp_path are unmounted before it is released."""
    if shutil.which("mkfs.btrfs") is None:
        pytest.skip("mkfs.btrfs is not installed (apt-get install btrfs-progs)")
    opened = StoragePool.open(tmp_path / "data", size_gb=2)
    assert opened.backend == "btrfs", opened.reason
    yield opened
    for point in reversed(mounts_below(tmp_path)):
        if point != str(opened.root):
            overlay.unmount(Path(point))
    release(tmp_path / "data")
    assert mounts_below(tmp_path) == []
    listed = subprocess.run(["losetup", "-a"], capture_output=True, text=True, check=True)
    assert str(tmp_path) not in listed.stdout
    (tmp_path / "data" / "pool.img").unlink()  # pytest keeps old tmp dirs; this is most of one


def make_layer(path: Path, files: dict[str, str]) -> Path:
    """A lower layer directory holding `files`."""
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    return path


def upper_in(pool: StoragePool, rel: str) -> tuple[Path, Path]:
    """A container layer subvolume with its upper and work dirs, as the node lays it out."""
    layer = pool.create_subvolume(rel)
    (layer / "upper").mkdir()
    (layer / "work").mkdir()
    return layer / "upper", layer / "work"


def test_writes_land_in_the_upper_and_never_in_the_lower(pool: StoragePool, tmp_path: Path) -> None:
    """Created, changed and deleted files all show in the upper; the lower is untouched."""
    lower = make_layer(tmp_path / "lower", {"etc/os": "base\n", "etc/gone": "x"})
    upper, work = upper_in(pool, "containers/c1")
    target = tmp_path / "ctr" / "rootfs"
    overlay.mount_rootfs([lower], upper, work, target)
    assert overlay.is_mounted(target)
    assert (target / "etc/os").read_text() == "base\n"
    (target / "etc/os").write_text("changed\n")
    (target / "new").write_text("hello")
    (target / "etc/gone").unlink()
    assert (lower / "etc/os").read_text() == "base\n"
    assert (lower / "etc/gone").exists()
    assert not (lower / "new").exists()
    assert (upper / "etc/os").read_text() == "changed\n"
    assert (upper / "new").read_text() == "hello"
    whiteout = (upper / "etc/gone").lstat()
    assert os.major(whiteout.st_rdev) == 0  # overlayfs marks deletions with a 0/0 char device
    assert os.minor(whiteout.st_rdev) == 0
    overlay.unmount(target)
    assert not overlay.is_mounted(target)
    assert target.is_dir()
    assert list(target.iterdir()) == []


def test_the_first_lower_is_the_topmost(pool: StoragePool, tmp_path: Path) -> None:
    """With two lowers, the first one's file hides the second's; the rest shows through."""
    top = make_layer(tmp_path / "top", {"f": "top", "only-top": "1"})
    base = make_layer(tmp_path / "base", {"f": "base", "only-base": "2"})
    upper, work = upper_in(pool, "containers/c2")
    target = tmp_path / "rootfs"
    overlay.mount_rootfs([top, base], upper, work, target)
    assert (target / "f").read_text() == "top"
    assert sorted(p.name for p in target.iterdir()) == ["f", "only-base", "only-top"]
    overlay.unmount(target)


def test_paths_with_commas_colons_and_backslashes_mount(pool: StoragePool, tmp_path: Path) -> None:
    """Escaped option characters in every path still produce the right overlay."""
    weird = tmp_path / "a,b:c\\d"
    lower = make_layer(weird / "low,er", {"f": "from lower"})
    upper, work = upper_in(pool, "containers/x:y,z")
    target = weird / "root:fs"
    overlay.mount_rootfs([lower], upper, work, target)
    assert overlay.is_mounted(target)
    assert (target / "f").read_text() == "from lower"
    (target / "g").write_text("up")
    assert (upper / "g").read_text() == "up"
    overlay.unmount(target)
    assert not overlay.is_mounted(target)


def test_a_snapshot_of_the_upper_mounts_as_a_clone(pool: StoragePool, tmp_path: Path) -> None:
    """A writable snapshot of a live container's layer is a second rootfs with its own future."""
    lower = make_layer(tmp_path / "lower", {"base": "b"})
    upper, work = upper_in(pool, "containers/parent")
    parent = tmp_path / "parent"
    overlay.mount_rootfs([lower], upper, work, parent)
    (parent / "state").write_text("before fork")
    os.sync()
    child_layer = pool.snapshot("containers/parent", "containers/child", readonly=False)
    child = tmp_path / "child"
    overlay.mount_rootfs([lower], child_layer / "upper", child_layer / "work", child)
    assert (child / "state").read_text() == "before fork"
    (child / "state").write_text("child")
    (parent / "state").write_text("parent")
    assert (child / "state").read_text() == "child"
    assert (parent / "state").read_text() == "parent"
    assert (child / "base").read_text() == "b"
    overlay.unmount(child)
    overlay.unmount(parent)


def test_unmount_is_idempotent(tmp_path: Path) -> None:
    """Unmounting a plain directory or a missing path does nothing and raises nothing."""
    (tmp_path / "plain").mkdir()
    overlay.unmount(tmp_path / "plain")
    overlay.unmount(tmp_path / "missing")
    assert not overlay.is_mounted(tmp_path / "plain")
    assert not overlay.is_mounted(tmp_path / "missing")
    assert overlay.is_mounted(Path("/proc"))


def test_busy_overlay_is_detached_lazily(pool: StoragePool, tmp_path: Path) -> None:
    """An overlay with a file still open leaves the tree at once; the open file keeps working."""
    lower = make_layer(tmp_path / "lower", {"f": "data"})
    upper, work = upper_in(pool, "containers/busy")
    target = tmp_path / "rootfs"
    overlay.mount_rootfs([lower], upper, work, target)
    with (target / "f").open() as held:
        overlay.unmount(target)
        assert not overlay.is_mounted(target)
        assert held.read() == "data"


def test_mounting_twice_at_one_target_is_refused(pool: StoragePool, tmp_path: Path) -> None:
    """A second overlay never stacks on a mounted target (it would leak the first)."""
    lower = make_layer(tmp_path / "lower", {"f": "x"})
    upper, work = upper_in(pool, "containers/one")
    target = tmp_path / "rootfs"
    overlay.mount_rootfs([lower], upper, work, target)
    with pytest.raises(HostError, match="something is mounted there"):
        overlay.mount_rootfs([lower], upper, work, target)
    overlay.unmount(target)
    assert mounts_below(target) == []


def test_a_failed_mount_names_the_call_and_the_cause(pool: StoragePool, tmp_path: Path) -> None:
    """A missing upper fails with the mount call, its options and a hint."""
    lower = make_layer(tmp_path / "lower", {"f": "x"})
    target = tmp_path / "rootfs"
    with pytest.raises(HostError, match=r"mount\(overlay, .*upperdir=.*does not exist"):
        overlay.mount_rootfs([lower], tmp_path / "nope", tmp_path / "work", target)
    assert not overlay.is_mounted(target)
