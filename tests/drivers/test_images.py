"""Managed images for real: busybox in a private cache, prod in the shared default cache.

The prod image is built once into /var/cache/quilt/images on purpose: later runs (and the
servers of the API tests) reuse it, so only the first run pays for mmdebstrap.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from quilt.drivers.storage import images
from quilt.drivers.storage.images import ImageStore
from quilt.errors import HostError, NotFound

pytestmark = pytest.mark.host

DEFAULT_CACHE = Path("/var/cache/quilt/images")


def in_image(rootfs: Path, *argv: str) -> str:
    """Run a command chrooted into `rootfs` and return what it printed."""
    done = subprocess.run(
        ["chroot", str(rootfs), *argv],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"},
        timeout=60,
    )
    return done.stdout


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    """An image store over an empty private cache."""
    if not Path("/bin/busybox").exists():
        pytest.skip("/bin/busybox is missing (apt-get install busybox-static)")
    return ImageStore(tmp_path / "cache")


def test_busybox_builds_a_working_root_filesystem(store: ImageStore) -> None:
    """Busybox builds in well under a second, and its shell runs inside the image."""
    lines: list[str] = []
    started = time.monotonic()
    image = store.ensure("busybox", progress=lines.append)
    assert time.monotonic() - started < 2
    assert lines[0] == "building image busybox"
    [rootfs] = image.layers
    assert rootfs == store.cache_dir / "busybox" / "rootfs"
    assert (rootfs / "bin/sh").readlink() == Path("/bin/busybox")
    assert stat.S_IMODE((rootfs / "tmp").stat().st_mode) == 0o1777
    assert stat.S_IMODE((rootfs / "root").stat().st_mode) == 0o700
    assert (rootfs / "etc/passwd").read_text().startswith("root:x:0:0:")
    marker = json.loads((rootfs / "etc/quilt-image").read_text())
    assert marker["name"] == "busybox"
    assert marker["built_at"] == image.built_at
    assert image.size_bytes > 1 << 20
    assert in_image(rootfs, "/bin/sh", "-c", "echo $((6 * 7)); id -u; ls /tmp | wc -l") == (
        "42\n0\n0\n"
    )
    assert store.validate(image).valid
    assert store.get("busybox") == image
    assert store.ensure("busybox") == image  # already built: no second build
    assert [p.name for p in store.cache_dir.iterdir() if p.name.startswith(".")] == []


def test_validate_detects_a_missing_shell(store: ImageStore) -> None:
    """Removing /bin/sh invalidates the image at once; ensure then builds a fresh one."""
    image = store.ensure("busybox")
    (image.layers[0] / "bin/sh").unlink()
    check = store.validate(image)
    assert not check.valid
    assert check.problems == ["/bin/sh is missing"]
    assert store.get("busybox") is None
    rebuilt = store.ensure("busybox")
    assert store.validate(rebuilt).valid
    assert (rebuilt.layers[0] / "bin/sh").is_symlink()


def test_validate_detects_a_foreign_or_missing_marker(store: ImageStore) -> None:
    """A marker naming another image, or none at all, fails the contract with that reason."""
    image = store.ensure("busybox")
    marker = image.layers[0] / "etc/quilt-image"
    marker.write_text(json.dumps({"name": "prod", "version": "1", "built_at": image.built_at}))
    assert store.validate(image).problems == ["/etc/quilt-image names 'prod', not 'busybox'"]
    marker.unlink()
    assert store.validate(image).problems == ["/etc/quilt-image is missing"]


def test_validate_detects_a_shell_that_is_not_executable(store: ImageStore) -> None:
    """A /bin/sh that resolves to a non-executable file is reported as such."""
    image = store.ensure("busybox")
    rootfs = image.layers[0]
    (rootfs / "bin/sh").unlink()
    (rootfs / "bin/sh").write_text("not a program")
    assert store.validate(image).problems == ["/bin/sh is not an executable file"]


def test_validate_is_cached_until_something_changes(store: ImageStore) -> None:
    """Repeated checks return the cached result and cost microseconds, not a full walk."""
    image = store.ensure("busybox")
    first = store.validate(image)
    assert store.validate(image) is first
    started = time.perf_counter()
    for _ in range(1000):
        store.validate(image)
    assert (time.perf_counter() - started) / 1000 < 0.0005
    (image.layers[0] / "etc/quilt-image").write_text("{}")
    assert store.validate(image) is not first


def test_concurrent_ensure_builds_once(store: ImageStore) -> None:
    """Two threads asking for a missing image at once get one build and the same image."""
    lines: list[str] = []
    results: list[images.Image] = []
    barrier = threading.Barrier(2)

    def ask() -> None:
        barrier.wait()
        results.append(ImageStore(store.cache_dir).ensure("busybox", progress=lines.append))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert lines.count("building image busybox") == 1
    assert len(results) == 2
    assert results[0] == results[1]


def test_a_failed_build_leaves_nothing_behind(
    store: ImageStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recipe that fails half-way publishes no image and leaves no staging directory."""

    def broken(rootfs: Path, progress: object) -> None:
        del progress
        (rootfs / "etc").mkdir(parents=True)
        (rootfs / "etc/passwd").write_text("root:x:0:0::/:/bin/sh\n")
        raise HostError("mirror went away")

    monkeypatch.setitem(images.RECIPES, "busybox", broken)
    with pytest.raises(HostError, match="mirror went away"):
        store.ensure("busybox")
    assert sorted(p.name for p in store.cache_dir.iterdir()) == ["busybox.lock"]
    assert store.get("busybox") is None


def test_a_build_that_breaks_the_contract_is_not_published(
    store: ImageStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recipe whose result has no shell fails with the contract's problems, publishing nothing."""

    def shell_less(rootfs: Path, progress: object) -> None:
        del progress
        for directory in ("etc", "tmp"):
            (rootfs / directory).mkdir(parents=True)
        (rootfs / "etc/passwd").write_text("root:x:0:0::/:/bin/sh\n")

    monkeypatch.setitem(images.RECIPES, "busybox", shell_less)
    with pytest.raises(HostError, match="failed its contract: /bin/sh is missing"):
        store.ensure("busybox")
    assert not (store.cache_dir / "busybox").exists()


def test_stale_staging_dirs_are_swept(store: ImageStore) -> None:
    """Leftovers of a builder that died are removed by the next build."""
    stale = store.cache_dir / ".busybox.build-dead"
    (stale / "rootfs/etc").mkdir(parents=True)
    image = store.ensure("busybox")
    assert not stale.exists()
    assert store.validate(image).valid


def test_unknown_images_are_not_found(store: ImageStore) -> None:
    """Only managed names exist; asking for another one says which names do."""
    assert store.names() == ["prod", "busybox"]
    assert store.get("nope") is None
    with pytest.raises(NotFound) as caught:
        store.ensure("nope")
    assert caught.value.details == {"expected": ["prod", "busybox"], "received": "nope"}


def test_host_apt_sources_are_the_files_apt_reads(tmp_path: Path) -> None:
    """sources.list, then *.list and *.sources in order; other suffixes are skipped like apt."""
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("deb http://mirror.invalid/debian bookworm main\n")
    for name in ("b.sources", "a.list", "c.list.disabled-by-farm", "d.sources.save", "e.txt"):
        (tmp_path / "sources.list.d" / name).write_text("")
    found = images.host_apt_sources(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "sources.list",
        "sources.list.d/a.list",
        "sources.list.d/b.sources",
    ]
    assert images.host_apt_sources(tmp_path / "absent") == []


def test_static_binaries_are_told_apart(tmp_path: Path) -> None:
    """busybox-static has no ELF interpreter; a dynamic binary and a text file are refused."""
    assert images.elf_is_static(Path("/bin/busybox").read_bytes()[:4096])
    assert not images.elf_is_static(Path(shutil.which("ls") or "/bin/ls").read_bytes()[:4096])
    assert not images.elf_is_static(b"#!/bin/sh\n")


def test_lookup_stays_inside_the_root(tmp_path: Path) -> None:
    """Absolute symlinks resolve against the image root, never the host's filesystem."""
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/dash").write_text("")
    (root / "bin").symlink_to("usr/bin")
    (root / "usr/bin/sh").symlink_to("/usr/bin/dash")
    (root / "usr/bin/escape").symlink_to("/etc/hostname")
    (root / "usr/bin/loop").symlink_to("loop")
    assert images.lookup([root], "/bin/sh") == root / "usr/bin/dash"
    assert images.lookup([root], "/bin/escape") is None
    assert images.lookup([root], "/bin/loop") is None
    upper = tmp_path / "upper"
    (upper / "usr/bin").mkdir(parents=True)
    (upper / "usr/bin/dash").write_text("#!")
    assert images.lookup([upper, root], "/bin/sh") == upper / "usr/bin/dash"


def test_prod_is_built_from_host_sources_and_valid() -> None:
    """The shared prod image has working bash, python3, curl and procps, and its own /etc."""
    store = ImageStore(DEFAULT_CACHE)
    lines: list[str] = []
    image = store.ensure("prod", progress=lines.append)
    assert store.validate(image).valid, store.validate(image).problems
    if lines:  # built by this run: mmdebstrap's progress came through as it happened
        assert lines[0] == "building image prod"
        assert any(line.startswith("I: ") for line in lines)
    [rootfs] = image.layers
    marker = json.loads((rootfs / "etc/quilt-image").read_text())
    assert (marker["name"], marker["built_at"]) == ("prod", image.built_at)
    script = 'python3 -c "print(6 * 7)"; curl --version | head -1; command -v ps less nano'
    out = in_image(rootfs, "/bin/bash", "-c", script).splitlines()
    assert out[0] == "42"
    assert out[1].startswith("curl ")
    assert out[2:] == ["/usr/bin/ps", "/usr/bin/less", "/usr/bin/nano"]
    assert (rootfs / "etc/resolv.conf").read_text() == images.RESOLV_PLACEHOLDER
    assert (rootfs / "etc/hostname").read_text() == "quilt\n"
    assert list((rootfs / "var/lib/apt/lists").glob("*_*")) == []
    assert list((rootfs / "var/cache/apt/archives").glob("*.deb")) == []
    assert not (rootfs / "usr/share/perl").exists()  # no usrmerge, so no full perl
    assert image.size_bytes < 400 << 20
