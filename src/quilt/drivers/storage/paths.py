"""Creates directories inside a container's root filesystem without following its symlinks."""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def make_dirs_inside(root: Path, path: str) -> bool:
    """`mkdir -p` of absolute `path` under `root`; False (nothing escapes) if a part is a link.

    Each component is opened with O_NOFOLLOW relative to its parent, so a symlink planted in
    the container's filesystem can never lead the host outside `root`.
    """
    parts = [p for p in path.split("/") if p and p != "."]
    if ".." in parts:
        return False
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
            try:
                child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError:
                return False
            os.close(fd)
            fd = child
    finally:
        os.close(fd)
    return True
