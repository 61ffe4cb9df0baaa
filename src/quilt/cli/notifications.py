"""`quilt notifications`: what the tenant should know about; mark it read."""

from __future__ import annotations

import click

from quilt.cli.common import Session, json_option, option, out, pass_session, table

COLUMNS = ("notification_id", "severity", "title", "message", "read", "created_at")


@click.group()
def notifications() -> None:
    """List notifications, mark them read, or post a note."""


@notifications.command("ls")
@option("--unread", is_flag=True, help="Only unread ones.")
@option("--limit", type=click.IntRange(1, 1000), help="How many [50].")
@json_option
@pass_session
def list_(session: Session, limit: int | None, *, unread: bool, as_json: bool) -> None:
    """List notifications, newest first, with how many are unread."""
    found = session.client.notifications.list(unread_only=unread, limit=limit)

    def render() -> None:
        table(found.notifications, COLUMNS, "no notifications")
        out.print(f"{found.unread_count} unread")

    session.show(as_json, render)


@notifications.command()
@click.argument("title")
@click.argument("message")
@option("--type", "kind", default="note", show_default=True, help="A type of your choosing.")
@option(
    "--severity",
    type=click.Choice(["info", "warning", "error"]),
    default="info",
    show_default=True,
    help="How much it matters.",
)
@json_option
@pass_session
def create(
    session: Session, title: str, message: str, kind: str, severity: str, *, as_json: bool
) -> None:
    """Post a notification with TITLE and MESSAGE (e.g. from a CI job)."""
    made = session.client.notifications.create(kind, title, message, severity)
    session.show(as_json, lambda: out.print(made.notification_id))


@notifications.command()
@click.argument("notification_id", required=False)
@option("--all", "every", is_flag=True, help="Mark every notification read.")
@json_option
@pass_session
def read(session: Session, notification_id: str | None, *, every: bool, as_json: bool) -> None:
    """Mark NOTIFICATION_ID read (or all of them with --all)."""
    if every == (notification_id is not None):
        raise click.UsageError("give a NOTIFICATION_ID or --all, not both or neither")
    if notification_id is not None:
        done = session.client.notifications.mark_read(notification_id)
        session.show(as_json, lambda: out.print(f"{done.notification_id} read"))
    else:
        marked = session.client.notifications.mark_all_read()
        session.show(as_json, lambda: out.print(f"{marked.marked} marked read"))
