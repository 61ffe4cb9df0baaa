"""Commands that act on this host: `serve` runs the server; `images` and `purge` manage it.

These are the only commands that import server code (lazily, so `quilt --help` stays fast).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from quilt import __version__
from quilt.cli.common import option

if TYPE_CHECKING:
    from collections.abc import Iterator


def _settings(**flags: Any) -> Any:
    from quilt.settings import Settings  # noqa: PLC0415 - keep `quilt --help` fast

    given = {k: v for k, v in flags.items() if v is not None}
    return Settings(**given)


@click.command()
@option("--host", envvar="QUILT_HOST", help="address to listen on [127.0.0.1]")
@option("--port", envvar="QUILT_PORT", type=int, help="port to listen on [8787]")
@option(
    "--data-dir",
    envvar="QUILT_DATA_DIR",
    type=click.Path(path_type=Path),
    help="state directory [/var/lib/quilt]",
)
@option("--log-level", envvar="QUILT_LOG_LEVEL", help="debug, info, warning, error [info]")
def serve(host: str | None, port: int | None, data_dir: Path | None, log_level: str | None) -> None:
    """Run the server (every setting is also a QUILT_* environment variable)."""
    import uvicorn  # noqa: PLC0415

    from quilt import logs  # noqa: PLC0415
    from quilt.api.app import create_app  # noqa: PLC0415
    from quilt.api.ingress import IngressProtocol  # noqa: PLC0415

    settings = _settings(host=host, port=port, data_dir=data_dir, log_level=log_level)
    logs.configure(settings.log_level)

    def announce(platform: Any) -> None:
        base = f"http://{settings.host}:{settings.port}"
        click.echo(
            f"Quilt {__version__} listening on {base} (data dir {settings.data_dir})", err=True
        )
        if platform.dev_key:
            click.echo("", err=True)
            click.echo("A development API key was generated. It is shown only this once:", err=True)
            click.echo(f"  export QUILT_API_KEY={platform.dev_key}", err=True)
            click.echo(f'  curl -H "X-Api-Key: $QUILT_API_KEY" {base}/api/system/info', err=True)
            click.echo("", err=True)

    app = create_app(settings, on_ready=announce)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        proxy_headers=False,  # nothing trusts the peer address; saves work on every request
        timeout_graceful_shutdown=10,
        lifespan="on",
        http=IngressProtocol,  # /linx/ relayed at the transport; the rest is uvicorn's httptools
    )
    server = _graceful_server(config)
    server.run()
    sys.exit(0 if server.started else 1)


def _graceful_server(config: Any) -> Any:
    """Uvicorn's server, minus the re-raise of the signal that asked it to stop.

    uvicorn re-raises a caught SIGTERM/SIGINT once it has shut down; by then every step of
    the graceful shutdown has run, so the process should exit 0 ("done"), not die by signal.
    """
    import contextlib  # noqa: PLC0415

    import uvicorn  # noqa: PLC0415

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                yield
                self._captured_signals.clear()

    return Server(config)


@click.group()
def images() -> None:
    """Managed images on this host."""


@images.command("build")
@click.argument("names", nargs=-1)
@option(
    "--image-cache",
    envvar="QUILT_IMAGE_CACHE",
    type=click.Path(path_type=Path),
    help="image cache [/var/cache/quilt/images]",
)
def images_build(names: tuple[str, ...], image_cache: Path | None) -> None:
    """Build managed images (default: all of them) unless already built."""
    from quilt.drivers.storage.images import ImageStore  # noqa: PLC0415

    settings = _settings(image_cache=image_cache)
    store = ImageStore(settings.image_cache)
    for name in names or tuple(store.names()):
        if store.get(name) is not None:
            click.echo(f"image {name}: already built", err=True)
            continue
        click.echo(f"image {name}: building", err=True)
        image = store.ensure(name, progress=functools.partial(_progress, name))
        click.echo(f"image {name}: built ({image.size_bytes // (1024 * 1024)} MiB)", err=True)


def _progress(name: str, line: str) -> None:
    click.echo(f"  [{name}] {line}", err=True)


@click.command()
@option("--data-dir", envvar="QUILT_DATA_DIR", type=click.Path(path_type=Path), required=True)
@option("--yes", is_flag=True, help="do not ask for confirmation")
def purge(data_dir: Path, *, yes: bool) -> None:
    """Delete a data dir's containers and release its host resources (stop the server first)."""
    import asyncio  # noqa: PLC0415

    from quilt.node.purge import purge as run_purge  # noqa: PLC0415

    if not yes:
        click.confirm(f"Delete every container and volume under {data_dir}?", abort=True)
    settings = _settings(data_dir=data_dir)
    removed = asyncio.run(run_purge(settings))
    click.echo(
        f"removed {len(removed)} container(s); released the storage pool of {data_dir}", err=True
    )
