"""Host paths and names of a data dir."""

from __future__ import annotations

from typing import TYPE_CHECKING

from quilt.node.layout import Layout, new_tag
from quilt.node.local import data_dir_tag

if TYPE_CHECKING:
    from pathlib import Path


def test_tag_is_written_on_first_use_and_kept_when_the_data_dir_moves(tmp_path: Path) -> None:
    """A moved data dir keeps its first tag, so its namespaces and sockets are still found."""
    first = tmp_path / "first"
    tag = data_dir_tag(first)
    assert (first / "tag").read_text().strip() == tag == new_tag(first)
    moved = first.rename(tmp_path / "moved")
    assert data_dir_tag(moved) == tag != new_tag(moved)


def test_names_carry_the_tag(tmp_path: Path) -> None:
    """Sockets and namespaces are named by the tag, so two data dirs never collide."""
    layout = Layout(tmp_path, "ab12")
    assert layout.netns("ctr_0123") == "qab12-0123"
    assert layout.container("ctr_0123").socket.as_posix() == "/run/quilt/ab12/ctr_0123.sock"
