"""Parsing minit's log records (pure and on a file)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from quilt.drivers.runtime import console

if TYPE_CHECKING:
    from pathlib import Path


def record(ms: int, stream: str, data: bytes) -> bytes:
    """Encode one record as minit writes it."""
    return f"{ms} {stream} {len(data)}:".encode() + data + b"\n"


def test_records_parse_with_binary_payloads() -> None:
    """Records keep their bytes exactly, including newlines and colons inside."""
    buffer = record(1700000000000, "o", b"a:b\n") + record(1700000000001, "e", b"\xff\n")
    parsed = console.parse(buffer)
    assert [(r.unix_ms, r.stream, r.data) for r in parsed] == [
        (1700000000000, "stdout", b"a:b\n"),
        (1700000000001, "stderr", b"\xff\n"),
    ]


def test_garbage_lines_are_skipped_and_partial_records_wait() -> None:
    """Non-record lines are skipped; a record still being written is not returned."""
    buffer = b"runtime noise\n" + record(1700000000000, "o", b"ok\n") + b"1700000000002 o 50:trunc"
    assert [r.data for r in console.parse(buffer)] == [b"ok\n"]


def test_tail_reads_the_newest_records(tmp_path: Path) -> None:
    """Tail returns the last N records of a long file."""
    path = tmp_path / "console.log"
    path.write_bytes(
        b"".join(record(1700000000000 + i, "o", f"line {i}\n".encode()) for i in range(5000))
    )
    last = console.tail(path, 3)
    assert [r.data for r in last] == [b"line 4997\n", b"line 4998\n", b"line 4999\n"]
    assert console.tail(tmp_path / "missing", 3) == []
