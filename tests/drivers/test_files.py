"""Confined file access for real: openat2 keeps every path inside its tree, whatever it holds.

Each test builds a tree in tmp_path beside an `outside` directory holding a secret, and tries
to reach or change the secret through `..`, absolute and relative symlinks, and archives.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from typing import TYPE_CHECKING

import pytest

from quilt.domain.files import clean, file_mode, strip_member
from quilt.drivers.storage.files import Tree
from quilt.errors import BadRequest, Conflict, NotFound

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Tree]:
    """A tree at tmp_path/root with a secret at tmp_path/outside/secret beside it."""
    (tmp_path / "root").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("secret")
    with Tree.open(tmp_path / "root", "the test tree") as opened:
        yield opened


def make_tar(*members: tuple[str, bytes | str | None, str], gzip: bool = False) -> io.BytesIO:
    """A tar of (name, data or link target, kind) members; kind is file, dir, sym or link."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gzip else "w") as archive:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if kind == "file":
                assert isinstance(data, bytes)
                info.size, info.mode = len(data), 0o640
                archive.addfile(info, io.BytesIO(data))
                continue
            info.type = {
                "dir": tarfile.DIRTYPE,
                "sym": tarfile.SYMTYPE,
                "link": tarfile.LNKTYPE,
                "char": tarfile.CHRTYPE,
            }[kind]
            info.mode = 0o755
            info.linkname = data if isinstance(data, str) else ""
            archive.addfile(info)
    buffer.seek(0)
    return buffer


def test_clean_refuses_dot_dot_and_nul() -> None:
    """Paths are normalised from the root; '..' and NUL bytes are refused."""
    assert clean("/a//b/./c") == "a/b/c"
    assert clean("/") == "."
    assert clean("") == "."
    for bad in ("../x", "/a/../../x", "a/..", "a\x00b"):
        with pytest.raises(BadRequest):
            clean(bad)


def test_file_mode_reads_octal_digits_and_client_octals() -> None:
    """644 and 0o644 (420) both mean rw-r--r--; strings are octal; nonsense is refused."""
    assert file_mode(644) == 0o644
    assert file_mode(0o644) == 0o644
    assert file_mode(755) == 0o755
    assert file_mode("0600") == 0o600
    for bad in (888, "9", 77777, -1):
        with pytest.raises(BadRequest):
            file_mode(bad)


def test_strip_member_drops_leading_parts() -> None:
    """strip_components drops leading parts, members left empty vanish, '..' is refused."""
    assert strip_member("./proj/src/a.py", 1) == "src/a.py"
    assert strip_member("/abs/file", 0) == "abs/file"
    assert strip_member("proj/", 1) is None
    with pytest.raises(ValueError, match=r"\.\."):
        strip_member("proj/../../etc/passwd", 0)


def test_write_read_list_and_remove(tree: Tree) -> None:
    """A written file reads back with its mode, shows in its directory, and deletes."""
    entry = tree.write(clean("/docs/notes.txt"), b"hello", 0o600)
    assert (entry.path, entry.size, entry.mode, entry.type) == ("/docs/notes.txt", 5, 0o600, "file")
    fd, read = tree.open_file("docs/notes.txt")
    with os.fdopen(fd, "rb") as handle:
        assert handle.read() == b"hello"
    assert read.size == 5
    assert [e.name for e in tree.list("docs")] == ["notes.txt"]
    assert [e.type for e in tree.list(".")] == ["directory"]
    tree.remove("docs/notes.txt", recursive=False)
    assert tree.list("docs") == []
    with pytest.raises(NotFound):
        tree.open_file("docs/notes.txt")


def test_symlinks_resolve_inside_the_tree(tree: Tree, tmp_path: Path) -> None:
    """Absolute and relative links pointing out land inside the tree instead."""
    root = tmp_path / "root"
    (root / "abs").symlink_to(str(tmp_path / "outside" / "secret"))
    (root / "rel").symlink_to("../outside/secret")
    (root / "top").symlink_to("/")
    for name in ("abs", "rel", "top/../outside/secret"):
        with pytest.raises(NotFound):
            tree.open_file(name)
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("inside")
    (root / "passwd-link").symlink_to("/etc/passwd")
    fd, _ = tree.open_file("passwd-link")
    with os.fdopen(fd) as handle:
        assert handle.read() == "inside"


def test_writes_through_links_stay_inside(tree: Tree, tmp_path: Path) -> None:
    """Writing through a directory link that points out writes inside the tree, or nowhere."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "out").symlink_to(str(outside))
    with pytest.raises(BadRequest, match="symbolic link"):
        tree.write("out/secret", b"changed", 0o644)
    (root / str(outside).lstrip("/")).mkdir(parents=True)
    tree.write("out/secret", b"changed", 0o644)
    assert (outside / "secret").read_text() == "secret"
    assert (root / str(outside).lstrip("/") / "secret").read_bytes() == b"changed"


def test_writing_over_a_link_replaces_the_link(tree: Tree, tmp_path: Path) -> None:
    """A file written where a link to the outside stands replaces the link, not its target."""
    root = tmp_path / "root"
    (root / "link").symlink_to(str(tmp_path / "outside" / "secret"))
    tree.write("link", b"mine", 0o644)
    assert not (root / "link").is_symlink()
    assert (tmp_path / "outside" / "secret").read_text() == "secret"


def test_remove_never_follows_links(tree: Tree, tmp_path: Path) -> None:
    """Deleting a link to an outside directory deletes the link only, even recursively."""
    root = tmp_path / "root"
    (root / "out").symlink_to(str(tmp_path / "outside"))
    tree.remove("out", recursive=True)
    assert (tmp_path / "outside" / "secret").exists()
    assert not os.path.lexists(root / "out")


def test_remove_directory_needs_recursive(tree: Tree) -> None:
    """A non-empty directory is only removed with recursive; the root never is."""
    tree.write("d/e/f", b"x", 0o644)
    with pytest.raises(Conflict):
        tree.remove("d", recursive=False)
    tree.remove("d", recursive=True)
    assert tree.list(".") == []
    with pytest.raises(BadRequest):
        tree.remove(".", recursive=True)


def test_unpack_places_files_links_and_modes(tree: Tree, tmp_path: Path) -> None:
    """A gzipped tar lands under dest with strip_components, modes, times and links kept."""
    archive = make_tar(
        ("proj", None, "dir"),
        ("proj/src", None, "dir"),
        ("proj/src/app.py", b"print(1)\n", "file"),
        ("proj/link", "src/app.py", "sym"),
        ("proj/hard", "proj/src/app.py", "link"),
        gzip=True,
    )
    done = tree.unpack(archive, "app", strip_components=1)
    root = tmp_path / "root" / "app"
    assert (root / "src" / "app.py").read_bytes() == b"print(1)\n"
    assert stat.S_IMODE((root / "src" / "app.py").stat().st_mode) == 0o640
    assert (root / "src" / "app.py").stat().st_mtime == 1_700_000_000
    assert (root / "link").readlink().as_posix() == "src/app.py"
    assert (root / "hard").stat().st_ino == (root / "src" / "app.py").stat().st_ino
    assert stat.S_IMODE((root / "src").stat().st_mode) == 0o755
    assert (done.files, done.directories, done.symlinks, done.hardlinks) == (1, 1, 1, 1)
    assert done.skipped_count == 0


def test_unpack_cannot_escape(tree: Tree, tmp_path: Path) -> None:
    """'..' members, devices, and writes through a planted link to the outside are skipped."""
    outside = tmp_path / "outside"
    archive = make_tar(
        ("../outside/secret", b"pwned", "file"),
        ("evil", str(outside), "sym"),
        ("evil/secret", b"pwned", "file"),
        ("dev", None, "char"),
    )
    done = tree.unpack(archive, ".")
    assert (outside / "secret").read_text() == "secret"
    assert done.skipped_count == 3
    assert [s.split(":")[0] for s in done.skipped] == ["../outside/secret", "evil/secret", "dev"]
    assert "symbolic link" in done.skipped[1]


def test_unpack_refuses_what_is_not_a_tar(tree: Tree) -> None:
    """A body that is not a tar archive is a clear 400."""
    with pytest.raises(BadRequest, match="tar"):
        tree.unpack(io.BytesIO(b'{"content": "aGk="}'), ".")
