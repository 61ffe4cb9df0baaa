"""The `quilt` command: one group per concern of the API, plus the commands of this host.

The concern commands reach the server only through the SDK; `serve`, `images` and `purge`
(`quilt.cli.host`) act on the local host. Every flag also reads a `QUILT_*` environment
variable (named in each `--help`); errors print `Error: <message> [CODE]` and exit non-zero.
"""

from __future__ import annotations

import click

from quilt import __version__
from quilt.cli.activity import activity
from quilt.cli.api_keys import api_keys
from quilt.cli.cleanup import cleanup
from quilt.cli.common import Failed, Session, option
from quilt.cli.containers import containers
from quilt.cli.events import events
from quilt.cli.exec import exec_
from quilt.cli.forks import forks
from quilt.cli.host import images, purge, serve
from quilt.cli.network import network
from quilt.cli.notifications import notifications
from quilt.cli.operations import operations
from quilt.cli.services import services
from quilt.cli.shell import shell
from quilt.cli.snapshots import snapshots
from quilt.cli.system import guides, system
from quilt.cli.terminals import terminals
from quilt.cli.volumes import volumes
from quilt.sdk import QuiltError


class Root(click.Group):
    """The root group: lists commands in the order they were added; turns SDK errors into exits."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Commands in the order of `COMMANDS` (concerns first, then the host's)."""
        del ctx
        return list(self.commands)

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; an SDK error becomes `Error: <message> [CODE]`, exit 1."""
        try:
            return super().invoke(ctx)
        except QuiltError as exc:
            raise Failed.of(exc) from exc


@click.group(
    cls=Root,
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "QUILT"},
)
@click.version_option(__version__, prog_name="quilt")
@option(
    "--url",
    envvar=["QUILT_URL", "QUILT_BASE_URL"],
    help="The Quilt server [http://127.0.0.1:8787].",
)
@option("--api-key", envvar="QUILT_API_KEY", help="API key (`quilt serve` prints one).")
@option("--tenant-id", envvar="QUILT_TENANT_ID", help="Tenant for X-Tenant-Id [the key's].")
@option(
    "--request-timeout",
    envvar="QUILT_REQUEST_TIMEOUT",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds one request may take.",
)
@click.pass_context
def main(
    ctx: click.Context,
    url: str | None,
    api_key: str | None,
    tenant_id: str | None,
    request_timeout: float,
) -> None:
    """Quilt: self-hosted, disposable, isolated containers behind the Quilt HTTP API.

    Start a server with `quilt serve`, export the key it prints, then e.g.
    `quilt containers create demo` and `quilt exec demo -- uname -a`.
    """
    ctx.obj = Session(url=url, api_key=api_key, tenant_id=tenant_id, timeout=request_timeout)


COMMANDS = (
    containers,
    exec_,
    shell,
    operations,
    snapshots,
    forks,
    volumes,
    network,
    services,
    terminals,
    events,
    activity,
    notifications,
    cleanup,
    api_keys,
    system,
    guides,
    serve,
    images,
    purge,
)
for command in COMMANDS:
    main.add_command(command)

if __name__ == "__main__":
    main()
