"""The storage pool for real: a loop-mounted btrfs image in tmp_path, and the directory fallback.

Every pool a test opens is released by a finalizer, which also checks that no mount and no loop
device of it is left on the host.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from quilt.drivers.storage import pool as pool_mod
from quilt.drivers.storage.pool import StoragePool, read_mountinfo, release
from quilt.errors import BadRequest, HostError, ServiceUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

pytestmark = pytest.mark.host

SIZE_GB = 2


def btrfs_reason() -> str | None:
    """Why this host cannot loop-mount btrfs, or None if it can."""
    if shutil.which("mkfs.btrfs") is None:
        return "mkfs.btrfs is not installed (apt-get install btrfs-progs)"
    if not Path("/dev/loop-control").exists():
        return "no /dev/loop-control: loop devices are unavailable"
    if "btrfs" not in Path("/proc/filesystems").read_text():
        done = subprocess.run(["modprobe", "btrfs"], capture_output=True, check=False)
        if done.returncode != 0:
            return f"the kernel has no btrfs: {done.stderr.decode().strip()}"
    return None


def mounts_below(path: Path) -> list[str]:
    """Mount points at or below `path`."""
    top = str(path.resolve())
    return [e.mount_point for e in read_mountinfo() if e.mount_point.startswith(top)]


def loops_of(image: Path) -> str:
    """What `losetup -j` says about the image (empty when no loop device uses it)."""
    return subprocess.run(
        ["losetup", "-j", str(image)], capture_output=True, text=True, check=True
    ).stdout.strip()


def assert_released(tmp: Path) -> None:
    """Nothing below `tmp` is mounted and no loop device is backed by a file in it.

    The image files are deleted afterwards: sparse, but a few MB each, and pytest keeps old
    tmp dirs.
    """
    assert mounts_below(tmp) == []
    for image in tmp.rglob("pool.img"):
        assert loops_of(image) == ""
    assert str(tmp.resolve()) not in Path("/proc/mounts").read_text()
    listed = subprocess.run(["losetup", "-a"], capture_output=True, text=True, check=True)
    assert str(tmp.resolve()) not in listed.stdout
    for image in tmp.rglob("pool.img"):
        image.unlink()


@pytest.fixture
def open_pool(tmp_path: Path) -> Iterator[Callable[..., StoragePool]]:
    """Open pools under tmp_path; every data dir used is released and checked at the end."""
    reason = btrfs_reason()
    if reason:
        pytest.skip(reason)
    used: list[Path] = []

    def opener(name: str = "data", **kwargs: object) -> StoragePool:
        data_dir = tmp_path / name
        used.append(data_dir)
        kwargs.setdefault("size_gb", SIZE_GB)
        return StoragePool.open(data_dir, **kwargs)  # type: ignore[arg-type]

    yield opener
    for data_dir in reversed(used):
        release(data_dir)
    assert_released(tmp_path)


@pytest.fixture
def pool(open_pool: Callable[..., StoragePool]) -> StoragePool:
    """A btrfs pool on a fresh loop-mounted image."""
    opened = open_pool()
    assert opened.backend == "btrfs", opened.reason
    return opened


def test_open_mounts_a_sparse_loop_btrfs(pool: StoragePool, tmp_path: Path) -> None:
    """A data dir on ext4 gets a sparse image file, mounted as btrfs at <data>/pool."""
    assert pool.reason is None
    assert pool.root == (tmp_path / "data" / "pool").resolve()
    image = tmp_path / "data" / "pool.img"
    assert pool.image == image.resolve()
    assert image.stat().st_size == SIZE_GB * 1024**3
    assert image.stat().st_blocks * 512 < image.stat().st_size // 10  # sparse
    [entry] = [e for e in read_mountinfo() if e.mount_point == str(pool.root)]
    assert entry.fstype == "btrfs"
    assert entry.source.startswith("/dev/loop")
    assert loops_of(image).startswith(entry.source + ":")


def test_open_again_reuses_the_mount(
    pool: StoragePool, open_pool: Callable[..., StoragePool]
) -> None:
    """Opening an open pool (a server restart) mounts nothing new and attaches no new loop."""
    again = open_pool()
    assert (again.backend, again.root, again.image) == (pool.backend, pool.root, pool.image)
    assert mounts_below(pool.root) == [str(pool.root)]
    assert pool.image is not None
    assert len(loops_of(pool.image).splitlines()) == 1


def test_create_subvolume_makes_a_real_subvolume(pool: StoragePool) -> None:
    """The new directory is a btrfs subvolume root; parents are created; a second create fails."""
    path = pool.create_subvolume("containers/ctr_a")
    assert path == pool.root / "containers" / "ctr_a"
    assert path.stat().st_ino == pool_mod.SUBVOLUME_ROOT_INODE
    assert path.stat().st_dev != path.parent.stat().st_dev  # subvolumes get their own st_dev
    assert pool.exists("containers/ctr_a")
    with pytest.raises(HostError, match=r"SUBVOL_CREATE.*exists"):
        pool.create_subvolume("containers/ctr_a")


def test_readonly_snapshot_cannot_be_written(pool: StoragePool) -> None:
    """A read-only snapshot holds the source's data and refuses writes with EROFS."""
    src = pool.create_subvolume("containers/src")
    (src / "f").write_text("v1")
    snap = pool.snapshot("containers/src", "snapshots/s1", readonly=True)
    assert (snap / "f").read_text() == "v1"
    with pytest.raises(OSError, match="Read-only") as caught:
        (snap / "new").write_text("x")
    assert caught.value.errno == errno.EROFS
    with pytest.raises(OSError, match="Read-only"):
        (snap / "f").write_text("v2")


def test_writable_snapshot_is_independent_of_its_source(pool: StoragePool) -> None:
    """After a writable snapshot, writes on either side stay on that side."""
    src = pool.create_subvolume("containers/src")
    (src / "f").write_text("v1")
    clone = pool.snapshot("containers/src", "containers/clone", readonly=False)
    (src / "f").write_text("v2")
    (src / "later").write_text("x")
    (clone / "own").write_text("y")
    assert (clone / "f").read_text() == "v1"
    assert not (clone / "later").exists()
    assert not (src / "own").exists()
    assert clone.stat().st_ino == pool_mod.SUBVOLUME_ROOT_INODE


def test_snapshot_refuses_an_existing_destination(pool: StoragePool) -> None:
    """A snapshot never lands inside or over something that exists."""
    pool.create_subvolume("a")
    pool.create_subvolume("b")
    with pytest.raises(HostError, match="already exists"):
        pool.snapshot("a", "b", readonly=False)


def test_delete_removes_nested_subvolumes(pool: StoragePool) -> None:
    """Deleting a subvolume deletes the subvolumes inside it; deleting again is a no-op."""
    top = pool.create_subvolume("volumes/v1")
    pool.create_subvolume("volumes/v1/inner")
    deep = pool.create_subvolume("volumes/v1/inner/dir/deeper")
    (deep / "f").write_text("x")
    (top / "plain").mkdir()
    pool.delete_subvolume("volumes/v1")
    assert not pool.exists("volumes/v1")
    pool.delete_subvolume("volumes/v1")
    pool.delete_subvolume("never/was")


def test_delete_removes_readonly_snapshots_and_plain_dirs(pool: StoragePool) -> None:
    """A read-only snapshot and a plain directory holding subvolumes both delete cleanly."""
    pool.create_subvolume("containers/a")
    pool.create_subvolume("containers/b")
    pool.snapshot("containers/a", "snapshots/ro", readonly=True)
    pool.delete_subvolume("snapshots/ro")
    assert not pool.exists("snapshots/ro")
    pool.delete_subvolume("containers")
    assert not pool.exists("containers")


def test_usage_counts_written_bytes(pool: StoragePool) -> None:
    """Usage grows by what was written (allocated blocks, like du)."""
    layer = pool.create_subvolume("containers/u")
    before = pool.usage_bytes("containers/u")
    (layer / "blob").write_bytes(os.urandom(1 << 20))
    os.sync()
    assert pool.usage_bytes("containers/u") - before >= 1 << 20
    assert pool.usage_bytes("containers/absent") == 0


def test_paths_cannot_escape_the_pool(pool: StoragePool) -> None:
    """`..` in a pool path is refused before anything is created."""
    with pytest.raises(BadRequest):
        pool.create_subvolume("../outside")
    assert not (pool.root.parent / "outside").exists()


def test_data_survives_close_and_reopen(
    pool: StoragePool, open_pool: Callable[..., StoragePool]
) -> None:
    """Close unmounts and detaches; reopening mounts the same image with the data intact."""
    layer = pool.create_subvolume("containers/keep")
    (layer / "f").write_text("kept")
    pool.snapshot("containers/keep", "snapshots/k", readonly=True)
    pool.close()
    assert mounts_below(pool.root) == []
    assert pool.image is not None
    assert loops_of(pool.image) == ""
    again = open_pool()
    assert again.backend == "btrfs"
    assert (again.root / "containers/keep/f").read_text() == "kept"
    assert (again.root / "snapshots/k/f").read_text() == "kept"


def test_release_works_from_a_fresh_process(tmp_path: Path) -> None:
    """A pool opened by another process (now gone) is found and released from scratch."""
    reason = btrfs_reason()
    if reason:
        pytest.skip(reason)
    data_dir = tmp_path / "data"
    code = (
        "import sys; from pathlib import Path; from quilt.drivers.storage.pool import StoragePool;"
        f"p = StoragePool.open(Path(sys.argv[1]), size_gb={SIZE_GB}); p.create_subvolume('x');"
        "print(p.backend)"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, str(data_dir)], capture_output=True, text=True, check=True
        )
        assert done.stdout.strip() == "btrfs"
        assert mounts_below(data_dir) == [str((data_dir / "pool").resolve())]
        assert loops_of(data_dir / "pool.img") != ""
    finally:
        release(data_dir)
    assert_released(tmp_path)
    release(data_dir)  # idempotent


def test_directory_backend_when_forced(open_pool: Callable[..., StoragePool]) -> None:
    """backend="directory" mounts nothing and copies instead of snapshotting."""
    pool = open_pool(backend="directory")
    assert pool.backend == "directory"
    assert pool.reason is not None
    assert pool.image is None
    assert mounts_below(pool.root) == []
    src = pool.create_subvolume("containers/src")
    (src / "sub").mkdir()
    (src / "sub/f").write_text("v1")
    (src / "link").symlink_to("sub/f")
    copy = pool.snapshot("containers/src", "snapshots/s", readonly=True)
    (src / "sub/f").write_text("v2")
    assert (copy / "sub/f").read_text() == "v1"
    assert (copy / "link").readlink() == Path("sub/f")
    pool.delete_subvolume("containers")
    pool.delete_subvolume("snapshots/s")
    assert not pool.exists("containers")
    assert not pool.exists("snapshots/s")
    assert not (pool.root.parent / "pool.img").exists()


def test_an_existing_directory_pool_stays_one(open_pool: Callable[..., StoragePool]) -> None:
    """A pool dir that already holds data is never hidden under a new btrfs mount."""
    first = open_pool(backend="directory")
    first.create_subvolume("containers/old")
    again = open_pool()
    assert again.backend == "directory"
    assert again.reason is not None
    assert "directory pool" in again.reason
    assert again.exists("containers/old")
    assert not (again.root.parent / "pool.img").exists()


def test_non_btrfs_mount_falls_back_or_fails_clearly(
    open_pool: Callable[..., StoragePool], tmp_path: Path
) -> None:
    """A non-btrfs mount at the pool dir: auto falls back with a reason, forced btrfs refuses."""
    root = tmp_path / "data" / "pool"
    root.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(root)], check=True)
    try:
        with pytest.raises(ServiceUnavailable, match="tmpfs mount, not btrfs"):
            open_pool(backend="btrfs")
        pool = open_pool()
        assert pool.backend == "directory"
        assert pool.reason is not None
        assert "tmpfs" in pool.reason
        assert pool.create_subvolume("x").is_dir()
    finally:
        subprocess.run(["umount", str(root)], check=True)


def test_data_dir_on_btrfs_uses_a_plain_directory(
    pool: StoragePool, open_pool: Callable[..., StoragePool]
) -> None:
    """A data dir that is already on btrfs holds its subvolumes directly, with no image."""
    inner = open_pool("data/pool/nested-data")
    assert inner.backend == "btrfs"
    assert inner.image is None
    assert not (pool.root / "nested-data" / "pool.img").exists()
    assert mounts_below(pool.root) == [str(pool.root)]
    made = inner.create_subvolume("containers/c")
    assert made.stat().st_ino == pool_mod.SUBVOLUME_ROOT_INODE
    inner.snapshot("containers/c", "snapshots/c", readonly=True)
    inner.delete_subvolume("snapshots/c")
    inner.delete_subvolume("containers")
    assert not inner.exists("containers")


def test_a_leftover_loop_device_does_not_block_reopening(
    pool: StoragePool, open_pool: Callable[..., StoragePool]
) -> None:
    """A loop device left on the image is replaced by one that goes away with the mount."""
    pool.close()
    assert pool.image is not None
    subprocess.run(["losetup", "--find", str(pool.image)], check=True)
    assert loops_of(pool.image) != ""
    again = open_pool()
    assert again.backend == "btrfs", again.reason
    assert len(loops_of(pool.image).splitlines()) == 1
    subprocess.run(["umount", str(again.root)], check=True)
    assert loops_of(pool.image) == ""  # autoclear: the unmount alone freed the device


def write_synced(path: Path, data: bytes) -> None:
    """Write and fsync, so a quota is charged before this returns."""
    with path.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def test_a_limit_stops_writes_past_it(pool: StoragePool) -> None:
    """A capped subvolume takes writes up to its cap, then fails with EDQUOT, and recovers."""
    volume = pool.create_subvolume("volumes/capped")
    pool.limit_subvolume("volumes/capped", 2 << 20)
    assert pool.quotas == "simple"
    (volume / "fits").write_bytes(os.urandom(1 << 20))
    with pytest.raises(OSError, match="quota") as caught:
        write_synced(volume / "too-big", os.urandom(4 << 20))
    assert caught.value.errno == errno.EDQUOT
    (volume / "too-big").unlink()
    (volume / "fits").unlink()
    (volume / "again").write_bytes(os.urandom(1 << 20))
    free = pool.create_subvolume("volumes/free")
    (free / "big").write_bytes(os.urandom(4 << 20))  # uncapped neighbours are not affected


def test_limits_need_quotas_on_an_operators_btrfs(
    pool: StoragePool, open_pool: Callable[..., StoragePool]
) -> None:
    """On a btrfs Quilt did not make, quotas are not switched on for the operator: 400."""
    inner = open_pool("data/pool/nested-data")
    inner.create_subvolume("volumes/v")
    with pytest.raises(BadRequest, match="quotas"):
        inner.limit_subvolume("volumes/v", 1 << 20)
    assert inner.quotas is None
    inner.delete_subvolume("volumes")


def test_limits_need_btrfs(open_pool: Callable[..., StoragePool]) -> None:
    """The directory backend cannot cap a subvolume, and says so."""
    pool = open_pool(backend="directory")
    pool.create_subvolume("volumes/v")
    with pytest.raises(BadRequest, match="directory backend"):
        pool.limit_subvolume("volumes/v", 1 << 20)
