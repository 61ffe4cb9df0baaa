"""Streamed answers: server-sent events and NDJSON exec frames, decoded line by line."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

import quilt
from quilt.sdk._streams import Frames, ServerSentEvents


def test_server_sent_events_are_decoded() -> None:
    """Events end at a blank line; their name, id and JSON data are kept; comments skipped."""
    decoder = ServerSentEvents()
    lines = [
        "event: ready",
        'data: {"tenant_id":"ten_1"}',
        "",
        ": keep-alive",
        "id: 7.3",
        "event: container_update",
        'data: {"container_id":"ctr_1",',
        'data: "state":"stopped"}',
        "",
        "",
    ]
    events = [e for e in map(decoder.feed, lines) if e is not None]
    assert [(e.event, e.id) for e in events] == [("ready", None), ("container_update", "7.3")]
    assert events[0].data == {"tenant_id": "ten_1"}
    assert events[1].data == {"container_id": "ctr_1", "state": "stopped"}


def test_exec_frames_are_decoded() -> None:
    """Each NDJSON line is a frame; output frames give their bytes back."""
    decoder = Frames()
    out = base64.b64encode(b"hi\n").decode()
    frames = [
        decoder.feed(json.dumps({"type": "started", "container_id": "ctr_1", "pid": 9})),
        decoder.feed(json.dumps({"type": "stdout", "data_b64": out})),
        decoder.feed(""),
        decoder.feed(json.dumps({"type": "exit", "code": 0, "elapsed_ms": 3})),
    ]
    assert [f.type if f else None for f in frames] == ["started", "stdout", None, "exit"]
    assert frames[1] is not None
    assert frames[1].data == b"hi\n"
    assert frames[3] is not None
    assert frames[3].code == 0


def test_sync_stream_reads_frames_and_refuses_errors() -> None:
    """containers.stream yields frames in a with-block; an error answer raises before any."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ctr_gone/stream"):
            body = {"error": "gone", "error_code": "NOT_FOUND", "request_id": "req_s"}
            return httpx.Response(404, json=body)
        assert json.loads(request.content) == {"command": ["echo", "hi"]}
        lines = [
            {"type": "started", "container_id": "ctr_1", "pid": 3},
            {"type": "stdout", "data_b64": base64.b64encode(b"hi\n").decode()},
            {"type": "exit", "code": 0, "elapsed_ms": 1},
        ]
        return httpx.Response(200, content="\n".join(json.dumps(x) for x in lines) + "\n")

    with quilt.Quilt("http://quilt.test", transport=httpx.MockTransport(handler)) as client:
        with client.containers.stream("ctr_1", ["echo", "hi"]) as frames:
            got = list(frames)
        assert b"".join(f.data for f in got) == b"hi\n"
        assert got[-1].type == "exit"
        with pytest.raises(quilt.NotFound) as caught:  # noqa: SIM117 - the raise is the point
            with client.containers.stream("ctr_gone", ["true"]):
                pass
        assert caught.value.request_id == "req_s"


def test_a_shell_string_is_refused_before_sending() -> None:
    """Exec wants argv: passing one string raises TypeError and sends nothing."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    transport = httpx.MockTransport(handler)
    with (
        quilt.Quilt("http://quilt.test", transport=transport) as client,
        pytest.raises(TypeError, match="argv"),
    ):
        client.containers.exec("ctr_1", "echo hi")
    assert seen == []
