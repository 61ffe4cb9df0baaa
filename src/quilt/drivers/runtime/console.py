"""Reads the main command's log: the records minit appends to the container's console file.

Record format (minit/PROTOCOL.md): `<unix_ms> <o|e> <length>:<bytes>` and a newline.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from pathlib import Path

HEADER: Final = re.compile(rb"(\d{10,16}) ([oe]) (\d{1,9}):")
TAIL_BYTES_PER_LINE: Final = 4200  # a record carries at most 4096 bytes plus its header


@dataclass(frozen=True)
class Record:
    """One log record."""

    unix_ms: int
    stream: Literal["stdout", "stderr"]
    data: bytes


def parse(buffer: bytes) -> list[Record]:
    """Parse records from `buffer`, skipping anything that is not a record (resynchronising)."""
    records: list[Record] = []
    pos = 0
    while pos < len(buffer):
        match = HEADER.match(buffer, pos)
        if match is None:
            newline = buffer.find(b"\n", pos)
            if newline < 0:
                break
            pos = newline + 1
            continue
        start = match.end()
        end = start + int(match.group(3))
        if end > len(buffer):
            break  # a record still being written
        stream: Literal["stdout", "stderr"] = "stdout" if match.group(2) == b"o" else "stderr"
        records.append(Record(int(match.group(1)), stream, buffer[start:end]))
        pos = end + 1 if buffer[end : end + 1] == b"\n" else end
    return records


def tail(path: Path, limit: int) -> list[Record]:
    """The newest `limit` records of the file (reads only its end)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return []
    want = min(size, max(limit, 1) * TAIL_BYTES_PER_LINE)
    with path.open("rb") as f:
        f.seek(size - want, os.SEEK_SET)
        chunk = f.read(want)
    if want < size:
        # We started mid-file: skip to the first line start so parsing begins on a header.
        first = chunk.find(b"\n")
        chunk = chunk[first + 1 :] if first >= 0 else b""
    return parse(chunk)[-limit:] if limit > 0 else []
