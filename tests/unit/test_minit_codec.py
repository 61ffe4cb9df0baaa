"""The minit wire codec: request encoders and the reply frame decoder (no sockets)."""

from __future__ import annotations

import random
import struct

import pytest

from quilt.drivers.runtime.minit import (
    Exited,
    Failed,
    Frame,
    FrameDecoder,
    MinitInfo,
    MinitProtocolError,
    Output,
    Started,
    decode_event,
    decode_ping,
    decode_signal_reply,
    decode_started,
    encode_exec_request,
    encode_frame,
    encode_ping,
    encode_signal,
    encode_start_main,
)


def string(data: bytes) -> bytes:
    """A wire string."""
    return struct.pack("<I", len(data)) + data


def strings(*items: bytes) -> bytes:
    """A wire list."""
    return struct.pack("<I", len(items)) + b"".join(string(i) for i in items)


class Reader:
    """Reads wire values back out of an encoded request."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        """The next n bytes."""
        chunk = self.data[self.pos : self.pos + n]
        assert len(chunk) == n, "request ended early"
        self.pos += n
        return chunk

    def u32(self) -> int:
        """The next u32."""
        return int(struct.unpack("<I", self.take(4))[0])

    def string(self) -> bytes:
        """The next string."""
        return self.take(self.u32())

    def list(self) -> list[bytes]:
        """The next list."""
        return [self.string() for _ in range(self.u32())]


SAMPLE_FRAMES = [
    Frame("S", struct.pack("<I", 42)),
    Frame("O", b"hello\n"),
    Frame("E", b""),
    Frame("O", bytes(range(256)) * 256),  # exactly 64 KiB, every byte value
    Frame("E", b"\xff\xfe not utf-8"),
    Frame("X", struct.pack("<iiB", 137, 9, 1)),
]


def test_ping_is_one_op_byte() -> None:
    """A ping request is the single byte `P`."""
    assert encode_ping() == b"P"


def test_signal_request_layout() -> None:
    """A signal request is `K`, an i32 pid and a u32 signal, little-endian."""
    assert encode_signal(7, 15) == b"K\x07\x00\x00\x00\x0f\x00\x00\x00"
    assert encode_signal(0, 9)[1:5] == b"\x00\x00\x00\x00"


def test_exec_request_layout() -> None:
    """An exec request carries argv, env as K=V strings, cwd, timeout and zero flags in order."""
    data = encode_exec_request(["ls", "-l"], {"A": "1", "PATH": "/bin"}, "/tmp", 1500)
    r = Reader(data)
    assert r.take(1) == b"X"
    assert r.list() == [b"ls", b"-l"]
    assert r.list() == [b"A=1", b"PATH=/bin"]
    assert r.string() == b"/tmp"
    assert (r.u32(), r.u32()) == (1500, 0)
    assert r.pos == len(data)


def test_exec_request_exact_bytes() -> None:
    """A small exec request matches a hand-built byte string."""
    expected = b"X" + strings(b"true") + strings() + string(b"/") + b"\0" * 8
    assert encode_exec_request(["true"], {}, "/", None) == expected


def test_start_main_layout() -> None:
    """A start request is `M`, argv, env and cwd, with no timeout or flags."""
    data = encode_start_main(["sh", "-c", "exit 0"], {"HOME": "/root"}, "/srv")
    assert data == (
        b"M" + strings(b"sh", b"-c", b"exit 0") + strings(b"HOME=/root") + string(b"/srv")
    )


def test_non_utf8_arguments_round_trip() -> None:
    """Arguments holding surrogate-escaped bytes are sent as the original raw bytes."""
    data = encode_exec_request(["cat", "f\udcffile"], {}, "/", None)
    r = Reader(data)
    r.take(1)
    assert r.list() == [b"cat", b"f\xffile"]


def test_timeout_zero_and_none_mean_no_timeout() -> None:
    """Both None and 0 encode a zero timeout (no timeout)."""
    assert encode_exec_request(["x"], {}, "/", 0) == encode_exec_request(["x"], {}, "/", None)


@pytest.mark.parametrize(
    ("argv", "env", "cwd"),
    [
        ([], {}, "/"),
        (["a\0b"], {}, "/"),
        (["a"], {"K": "v\0"}, "/"),
        (["a"], {"": "v"}, "/"),
        (["a"], {"A=B": "v"}, "/"),
        (["a"], {}, "/t\0mp"),
    ],
)
def test_unencodable_requests_are_rejected(argv: list[str], env: dict[str, str], cwd: str) -> None:
    """Empty argv, NUL bytes and bad variable names are refused before anything is sent."""
    with pytest.raises(ValueError, match=r"NUL|empty|variable name"):
        encode_exec_request(argv, env, cwd, None)


def test_out_of_range_timeout_is_rejected() -> None:
    """A timeout that does not fit a u32 is refused."""
    with pytest.raises(ValueError, match="timeout_ms"):
        encode_exec_request(["a"], {}, "/", 2**32)


def test_decoder_round_trips_whole_stream() -> None:
    """Frames encoded back to back decode to the same frames in one feed."""
    stream = b"".join(encode_frame(f.kind, f.payload) for f in SAMPLE_FRAMES)
    decoder = FrameDecoder()
    assert decoder.feed(stream) == SAMPLE_FRAMES
    assert decoder.pending == 0


def test_decoder_byte_by_byte() -> None:
    """Feeding one byte at a time yields every frame exactly when its last byte arrives."""
    frames = SAMPLE_FRAMES[:3] + SAMPLE_FRAMES[4:]
    stream = b"".join(encode_frame(f.kind, f.payload) for f in frames)
    decoder = FrameDecoder()
    got: list[Frame] = []
    for i in range(len(stream)):
        got += decoder.feed(stream[i : i + 1])
    assert got == frames
    assert decoder.pending == 0


@pytest.mark.parametrize("seed", range(20))
def test_decoder_random_chunking(seed: int) -> None:
    """Any split of the stream into chunks decodes to the same frames."""
    rng = random.Random(seed)  # noqa: S311 - reproducible chunking, not secrets
    stream = b"".join(encode_frame(f.kind, f.payload) for f in SAMPLE_FRAMES)
    cuts = sorted(rng.sample(range(1, len(stream)), 30))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    decoder = FrameDecoder()
    got = [frame for chunk in chunks for frame in decoder.feed(chunk)]
    assert got == SAMPLE_FRAMES


def test_decoder_reports_partial_frame() -> None:
    """A frame cut short stays pending, which is how a hang-up mid-frame is detected."""
    decoder = FrameDecoder()
    assert decoder.feed(encode_frame("O", b"abcdef")[:-2]) == []
    assert decoder.pending == 9


@pytest.mark.parametrize(
    "header",
    [
        b"Z\x00\x00\x00\x00",  # unknown type
        b"S\x05\x00\x00\x00",  # S must be 4 bytes
        b"X\x08\x00\x00\x00",  # X must be 9 bytes
        b"O\x01\x00\x01\x00",  # data frames hold at most 64 KiB
        b"F\xff\xff\xff\xff",
    ],
)
def test_decoder_rejects_malformed_headers(header: bytes) -> None:
    """An unknown frame type or an impossible length is a protocol error at once."""
    with pytest.raises(MinitProtocolError):
        FrameDecoder().feed(header)


def test_payload_decoders() -> None:
    """P, K and S payloads decode to their typed values."""
    assert decode_ping(Frame("P", struct.pack("<Ii", 1, -1))) == MinitInfo(1, -1)
    assert decode_signal_reply(Frame("K", struct.pack("<i", 3))) == 3
    assert decode_started(Frame("S", struct.pack("<I", 99))) == 99


def test_payload_decoders_reject_wrong_frames() -> None:
    """A frame of the wrong type or size is a protocol error, not a wrong value."""
    with pytest.raises(MinitProtocolError):
        decode_ping(Frame("K", struct.pack("<i", 0)))
    with pytest.raises(MinitProtocolError):
        decode_started(Frame("S", b"\x01\x02"))


def test_exec_events() -> None:
    """Exec reply frames map to Started, Output, Exited and Failed events."""
    assert decode_event(Frame("S", struct.pack("<I", 5))) == Started(5)
    assert decode_event(Frame("O", b"a")) == Output("stdout", b"a")
    assert decode_event(Frame("E", b"\xff")) == Output("stderr", b"\xff")
    assert decode_event(Frame("X", struct.pack("<iiB", 143, 15, 0))) == Exited(
        143, 15, timed_out=False
    )
    assert decode_event(Frame("X", struct.pack("<iiB", 137, 9, 1))) == Exited(
        137, 9, timed_out=True
    )
    assert decode_event(Frame("F", b"minit: fork: x")) == Failed("minit: fork: x")


def test_exec_events_reject_other_frames() -> None:
    """A ping reply inside an exec reply is a protocol error."""
    with pytest.raises(MinitProtocolError):
        decode_event(Frame("P", struct.pack("<Ii", 1, 0)))
