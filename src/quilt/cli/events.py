"""`quilt events`: the live event stream, one line per event, until interrupted."""

from __future__ import annotations

import json

import click

from quilt.cli.common import Session, json_option, option, out, pass_session


@click.command()
@option("--container", "container_id", help="Only events of this container.")
@option("--operation", "operation_id", help="Only events of this operation.")
@option("--since", "last_event_id", help="Resume after this event id.")
@option("--count", type=int, help="Stop after this many events (heartbeats not counted).")
@json_option
@pass_session
def events(
    session: Session,
    container_id: str | None,
    operation_id: str | None,
    last_event_id: str | None,
    count: int | None,
    *,
    as_json: bool,
) -> None:
    """Follow container, operation, activity and notification events as they happen."""
    seen = 0
    stream = session.client.events.stream(
        container_id=container_id, operation_id=operation_id, last_event_id=last_event_id
    )
    with stream as found:
        for event in found:
            if event.event == "heartbeat":
                continue
            if as_json:
                click.echo(json.dumps({"id": event.id, "event": event.event, "data": event.data}))
            else:
                out.print(f"{event.id or '-'} {event.event} {json.dumps(event.data)}", markup=False)
            seen += 1
            if count is not None and seen >= count:
                return
