"""How captured command output is shown: decoded safely and marked when truncated."""

from __future__ import annotations

from typing import Final

DEFAULT_OUTPUT_LIMIT: Final = 1024 * 1024


def truncation_marker(limit: int) -> str:
    """The line appended to output that was cut at `limit` bytes."""
    return f"\n[quilt: output truncated at {limit} bytes]\n"


def render(data: bytes, *, truncated: bool, limit: int) -> str:
    """Decode as UTF-8 (invalid bytes become U+FFFD, so JSON never breaks); mark truncation."""
    text = data.decode("utf-8", errors="replace")
    return text + truncation_marker(limit) if truncated else text
