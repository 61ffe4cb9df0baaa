"""Line decoders of streamed answers: NDJSON exec frames and server-sent events. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from quilt.sdk._account import Event
from quilt.sdk._models import StreamFrame


class Frames:
    """Decodes `POST …/stream`: one JSON frame per line."""

    def feed(self, line: str) -> StreamFrame | None:
        """A frame per non-empty line."""
        return StreamFrame.model_validate_json(line) if line.strip() else None


@dataclass(slots=True)
class ServerSentEvents:
    """Decodes `GET /api/events` (the text/event-stream format, JSON `data`).

    Fields accumulate until a blank line ends the event; comment lines (`:`) are skipped.
    """

    name: str = ""
    event_id: str | None = None
    data: list[str] = field(default_factory=list)

    def feed(self, line: str) -> Event | None:
        """Take one line; an event once a blank line closes it."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        key, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if key == "event":
            self.name = value
        elif key == "data":
            self.data.append(value)
        elif key == "id":
            self.event_id = value
        return None

    def _dispatch(self) -> Event | None:
        if not self.data and not self.name:
            return None
        text = "\n".join(self.data)
        try:
            payload = json.loads(text) if text else {}
        except ValueError:
            payload = {"text": text}
        event = Event(
            event=self.name or "message",
            id=self.event_id,
            data=payload if isinstance(payload, dict) else {"value": payload},
        )
        self.name, self.event_id, self.data = "", None, []
        return event
