"""The overlay mount option string (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from quilt.drivers.storage.overlay import escape_option_path, overlay_options
from quilt.errors import BadRequest


def test_lowerdir_lists_the_topmost_layer_first() -> None:
    """Lowers keep the caller's order (topmost first), joined by colons, then upper and work."""
    options = overlay_options(
        [Path("/img/top"), Path("/img/base")], Path("/pool/c/upper"), Path("/pool/c/work")
    )
    assert options == "lowerdir=/img/top:/img/base,upperdir=/pool/c/upper,workdir=/pool/c/work"


def test_commas_colons_and_backslashes_are_escaped() -> None:
    """`,` would end the option and `:` split a layer, so both are escaped with a backslash."""
    options = overlay_options([Path("/a,b"), Path("/c:d")], Path("/u,1"), Path("/w:2"))
    assert options == r"lowerdir=/a\,b:/c\:d,upperdir=/u\,1,workdir=/w\:2"


def test_backslash_is_escaped_before_what_it_escapes() -> None:
    r"""A literal backslash doubles first, so `\:` in a name cannot turn into an escape."""
    assert escape_option_path(r"/x\:y") == r"/x\\\:y"
    assert escape_option_path(r"/back\slash") == r"/back\\slash"


def test_plain_paths_are_unchanged() -> None:
    """Spaces, `=` and non-ASCII need no escaping in mount(2) data."""
    assert escape_option_path("/a b/c=d/é") == "/a b/c=d/é"


def test_an_overlay_needs_a_lower_layer() -> None:
    """No lower layer is a caller error, not a mount(2) failure."""
    with pytest.raises(BadRequest, match="at least one lower"):
        overlay_options([], Path("/u"), Path("/w"))
