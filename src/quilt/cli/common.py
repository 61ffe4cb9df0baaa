"""What every API command shares: the SDK client, `--json`, tables, `--wait`, and errors.

The commands of the API's concerns reach the server only through the SDK (`quilt.sdk`).
`--json` prints the server's answer exactly as it came: a transport wrapper keeps the body of
the last JSON answer, so nothing is re-serialised from the SDK's models.
"""

from __future__ import annotations

import functools
import io
import re
import sys
import tarfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click
import httpx
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from quilt.sdk import Operation, Quilt, QuiltError, Receipt

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence


P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_WAIT = 300.0
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")

# A pipe gets whole lines (no folding at 80 columns); a terminal gets its own width.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 100_000)
err = Console(stderr=True, highlight=False, soft_wrap=True)

option = functools.partial(click.option, show_envvar=True)
"""`click.option` that names its environment variable in `--help` (every flag has one)."""


class Failed(click.ClickException):
    """A failure the server or the SDK reported: `Error: <message> [CODE]`, then the hint."""

    def __init__(self, message: str, code: str, hint: str | None = None) -> None:
        super().__init__(f"{message} [{code}]")
        self.hint = hint

    @classmethod
    def of(cls, exc: QuiltError) -> Failed:
        """The CLI's form of an SDK error."""
        return cls(exc.message, exc.code, exc.hint)

    def show(self, file: Any = None) -> None:
        """Print the error, then the server's hint when it gave one."""
        super().show(file)
        if self.hint:
            click.echo(f"Hint: {self.hint}", err=True)


class Recorder(httpx.BaseTransport):
    """Sends through the real transport and keeps the body of the last JSON answer."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.last: bytes | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send; read and keep the answer when it is JSON (streams pass through untouched)."""
        response = self.inner.handle_request(request)
        if response.headers.get("content-type", "").startswith("application/json"):
            self.last = response.read()
        return response

    def close(self) -> None:
        """Close the real transport."""
        self.inner.close()


@dataclass
class Session:
    """The connection settings of one `quilt` run, and the client made from them on first use."""

    url: str | None = None
    api_key: str | None = None
    tenant_id: str | None = None
    timeout: float = 60.0
    transport: httpx.BaseTransport | None = None
    _client: Quilt | None = field(default=None, repr=False)
    _recorder: Recorder | None = field(default=None, repr=False)

    @property
    def client(self) -> Quilt:
        """The SDK client (made once; closed when the command ends)."""
        if self._client is None:
            self._recorder = Recorder(self.transport or httpx.HTTPTransport())
            self._client = Quilt(
                self.url,
                api_key=self.api_key,
                tenant_id=self.tenant_id,
                timeout=self.timeout,
                transport=self._recorder,
            )
            click.get_current_context().call_on_close(self._client.close)
        return self._client

    def wire(self) -> str:
        """The last JSON answer, exactly as the server sent it."""
        if self._recorder is None or self._recorder.last is None:
            return "null"
        return self._recorder.last.decode()

    def show(self, as_json: bool, render: Callable[[], object]) -> None:
        """Print the wire JSON with `--json`, else what `render` prints for people."""
        if as_json:
            click.echo(self.wire())
        else:
            render()


pass_session = click.make_pass_decorator(Session)


def json_option(f: Callable[P, R]) -> Callable[P, R]:
    """`--json`: print the server's JSON answer instead of a table."""
    return option(
        "--json",
        "as_json",
        is_flag=True,
        envvar="QUILT_JSON",
        help="Print the server's JSON answer as it came.",
    )(f)


def wait_options(f: Callable[P, R]) -> Callable[P, R]:
    """`--wait` and `--timeout` for a route that answers 202 with an operation."""
    f = option(
        "--timeout",
        "wait_timeout",
        type=float,
        default=DEFAULT_WAIT,
        show_default=True,
        help="Seconds --wait waits for the operation.",
    )(f)
    return option("--wait", is_flag=True, help="Wait for the operation to end, with progress.")(f)


def pairs(values: Iterable[str], what: str) -> dict[str, str]:
    """`KEY=VALUE` arguments as a mapping; a value without `=` is a usage error."""
    found: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint=what)
        found[key] = rest
    return found


def finish(
    session: Session,
    receipt: Receipt,
    *,
    wait: bool,
    timeout: float,
    as_json: bool,
    done: Callable[[Operation], object] | None = None,
) -> Operation | None:
    """Print a 202 answer, or with `--wait` follow its operation to the end, showing progress."""
    if not wait:
        session.show(as_json, lambda: _receipt(receipt))
        return None
    operation = follow(session, receipt, timeout=timeout, quiet=as_json)
    session.show(as_json, lambda: (done or _operation_line)(operation))
    return operation


def follow(session: Session, receipt: Receipt | str, *, timeout: float, quiet: bool) -> Operation:
    """Wait for an operation; on a terminal, a spinner with its status, phase by phase."""
    seen: set[str] = set()
    with err.status("waiting", spinner="dots") as status:

        def update(operation: Operation) -> None:
            finished = operation.phases if operation.done else operation.phases[:-1]
            for phase in finished:
                if phase.name not in seen:
                    seen.add(phase.name)
                    if not quiet:
                        err.print(f"  [green]✓[/] {phase.name} [dim]{phase.duration_ms:.0f} ms[/]")
            pct = f" {operation.progress_pct:.0f}%" if operation.progress_pct else ""
            status.update(f"{operation.operation_id}: {operation.status}{pct}")

        return session.client.operations.wait(receipt, timeout=timeout, on_update=update)


def _receipt(receipt: Receipt) -> None:
    out.print(f"{receipt.operation_id} accepted")
    err.print(f"[dim]follow it: quilt ops wait {receipt.operation_id}[/]")


def _operation_line(operation: Operation) -> None:
    took = sum(phase.duration_ms for phase in operation.phases)
    out.print(f"{operation.operation_id} {operation.status} in {took:.0f} ms")


# -- output for people ---------------------------------------------------------------------


def text(value: object, key: str = "") -> str:
    """One value as a table cell (`key`, the field's name, tells a timestamp from a count)."""
    if value is None or value in ("", [], {}):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k}={text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(text(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool) and key.endswith("_at") and value:
        value = datetime.fromtimestamp(value, UTC).isoformat()  # Unix seconds (services)
    if isinstance(value, str) and (moment := TIMESTAMP.match(value)):
        return moment.group().replace("T", " ")  # an ISO timestamp, to the second
    return str(value)


def table(
    rows: Sequence[BaseModel | Mapping[str, Any]], columns: Sequence[str], empty: str
) -> None:
    """Rows as a table with the given fields as columns (say `empty` when there are none)."""
    if not rows:
        err.print(f"[dim]{empty}[/]")
        return
    grid = Table(box=None, pad_edge=False, header_style="bold")
    for index, column in enumerate(columns):
        last = index == len(columns) - 1
        grid.add_column(column.upper().replace("_", " "), no_wrap=not last, overflow="fold")
    for row in rows:
        values = _fields(row)
        grid.add_row(*(text(values.get(column), column) for column in columns))
    out.print(grid)


def detail(item: BaseModel | Mapping[str, Any], keys: Sequence[str] | None = None) -> None:
    """One resource as `field  value` lines (every field the server sent, unless `keys`)."""
    values = _fields(item)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for key in keys or list(values):
        if key in values:
            grid.add_row(key, text(values[key], key))
    out.print(grid)


def _fields(item: BaseModel | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(item, BaseModel):
        return item.model_dump(mode="json", exclude_unset=True)
    return item


def fail(message: str, code: str, exit_code: int = 1) -> None:
    """Print `Error: <message> [CODE]` and exit with `exit_code`."""
    click.echo(f"Error: {message} [{code}]", err=True)
    sys.exit(exit_code)


def archive(source: Path) -> bytes:
    """The bytes to upload for SOURCE: a directory tarred and gzipped, or a tar file as it is."""
    if not source.is_dir():
        return source.read_bytes()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for child in sorted(source.iterdir()):
            tar.add(child, arcname=child.name)
    return buffer.getvalue()


def upload_options(f: Callable[P, R]) -> Callable[P, R]:
    """SOURCE (a directory, tarred on the fly, or a tar file), --path, --strip, --wait, --json."""
    f = json_option(wait_options(f))
    f = option("--strip", "strip_components", type=int, help="Drop leading path parts.")(f)
    f = option("--path", default="/", show_default=True, help="Where to extract.")(f)
    return click.argument("source", type=click.Path(exists=True, path_type=Path))(f)
