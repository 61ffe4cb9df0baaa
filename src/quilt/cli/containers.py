"""`quilt containers`: create, list, inspect, stop, start and delete containers.

A container is named by its id or its name everywhere (the server takes either).
"""

from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING, Any

import click

from quilt.cli.common import (
    Failed,
    Session,
    archive,
    detail,
    finish,
    json_option,
    option,
    out,
    pairs,
    pass_session,
    table,
    upload_options,
    wait_options,
)
from quilt.sdk import QuiltError

if TYPE_CHECKING:
    from pathlib import Path

    from quilt.sdk import Container, Deleted

COLUMNS = ("name", "container_id", "state", "ip_address", "exit_code", "created_at")
SHOWN = (
    "container_id",
    "name",
    "state",
    "exit_code",
    "pid",
    "ip_address",
    "exec_ready",
    "network_ready",
    "working_directory",
    "memory_limit_mb",
    "cpu_limit_percent",
    "strict",
    "labels",
    "created_at",
    "started_at",
    "exited_at",
)


@click.group()
def containers() -> None:
    """Create, list, inspect, stop, start and delete containers."""


@containers.command(context_settings={"ignore_unknown_options": False})
@click.argument("name")
@click.argument("command", nargs=-1)
@option("--image", default="prod", show_default=True, help="Managed image: prod or busybox.")
@option("-e", "--env", "env", multiple=True, metavar="KEY=VALUE", help="Environment variable.")
@option("-w", "--workdir", help="Working directory of the command and of every exec.")
@option("-l", "--label", "labels", multiple=True, metavar="KEY=VALUE", help="Label.")
@option("-v", "--volume", "volumes", multiple=True, metavar="NAME:/PATH[:ro]", help="Volume.")
@option("--memory", "memory_mb", type=int, help="Memory limit in MiB (cgroup-enforced).")
@option("--cpu", "cpu_percent", type=float, help="CPU limit in percent of one core.")
@option("--strict", is_flag=True, help="No new privileges, seccomp, fewer capabilities.")
@json_option
@pass_session
def create(
    session: Session,
    name: str,
    command: tuple[str, ...],
    image: str,
    env: tuple[str, ...],
    workdir: str | None,
    labels: tuple[str, ...],
    volumes: tuple[str, ...],
    memory_mb: int | None,
    cpu_percent: float | None,
    *,
    strict: bool,
    as_json: bool,
) -> None:
    """Create and start container NAME; it runs COMMAND (after `--`), or idles for execs.

    Answers once the container runs and its readiness has been probed.
    """
    spec: dict[str, Any] = {"image": image}
    if command:
        spec["command"] = list(command)
    if env:
        spec["environment"] = pairs(env, "--env")
    if workdir:
        spec["working_directory"] = workdir
    if labels:
        spec["labels"] = pairs(labels, "--label")
    if volumes:
        spec["volumes"] = list(volumes)
    if memory_mb is not None:
        spec["memory_limit_mb"] = memory_mb
    if cpu_percent is not None:
        spec["cpu_limit_percent"] = cpu_percent
    if strict:
        spec["strict"] = True
    made = session.client.containers.create(name, **spec)
    session.show(as_json, lambda: detail(made, SHOWN))


@containers.command("ls")
@option("--state", help="Only containers in this state (running, stopped, exited, ...).")
@json_option
@pass_session
def list_(session: Session, state: str | None, *, as_json: bool) -> None:
    """List containers, newest first."""
    found = session.client.containers.list(state)
    session.show(as_json, lambda: table(found, COLUMNS, "no containers"))


@containers.command()
@click.argument("container")
@json_option
@pass_session
def get(session: Session, container: str, *, as_json: bool) -> None:
    """Show CONTAINER's status (an id or a name)."""
    found = session.client.containers.get(container)
    session.show(as_json, lambda: detail(found, SHOWN))


@containers.command()
@click.argument("container")
@json_option
@pass_session
def ready(session: Session, container: str, *, as_json: bool) -> None:
    """Show whether CONTAINER can take execs and traffic, probe by probe."""
    found = session.client.containers.ready(container)

    def render() -> None:
        detail(found, ("container_id", "state", "exec_ready", "network_ready", "gui_ready"))
        detail(found.checks)

    session.show(as_json, render)


@containers.command()
@click.argument("container")
@option("--limit", type=int, help="Only the last N lines.")
@json_option
@pass_session
def logs(session: Session, container: str, limit: int | None, *, as_json: bool) -> None:
    """Print what CONTAINER's main command wrote (stdout and stderr, in order)."""
    lines = session.client.containers.logs(container, limit)

    def render() -> None:
        for line in lines:
            click.echo(line.message, err=line.stream == "stderr")

    session.show(as_json, render)


@containers.command()
@click.argument("container")
@json_option
@pass_session
def metrics(session: Session, container: str, *, as_json: bool) -> None:
    """Show CONTAINER's CPU, memory and pids, as its cgroups count them."""
    found = session.client.containers.metrics(container)

    def render() -> None:
        mib = 1024 * 1024
        limit = found.memory_limit_bytes
        out.print(f"cpu     {found.cpu_usage_usec / 1e6:.3f} s used")
        out.print(
            f"memory  {found.memory_current_bytes / mib:.1f} MiB"
            + (f" of {limit / mib:.0f} MiB" if limit else "")
            + f" (peak {found.memory_peak_bytes / mib:.1f} MiB)"
        )
        out.print(f"pids    {found.pids_current}")

    session.show(as_json, render)


@containers.command()
@click.argument("container")
@click.argument("new_name")
@json_option
@pass_session
def rename(session: Session, container: str, new_name: str, *, as_json: bool) -> None:
    """Rename CONTAINER to NEW_NAME (its DNS name follows)."""
    done = session.client.containers.rename(container, new_name)
    session.show(as_json, lambda: out.print(f"{done.old_name} → {done.new_name}"))


@containers.command()
@click.argument("container")
@json_option
@pass_session
def stop(session: Session, container: str, *, as_json: bool) -> None:
    """Stop CONTAINER: SIGTERM, then SIGKILL after the grace period."""
    _changed(session, session.client.containers.stop(container), as_json=as_json)


@containers.command()
@click.argument("container")
@json_option
@pass_session
def kill(session: Session, container: str, *, as_json: bool) -> None:
    """Kill CONTAINER at once (SIGKILL)."""
    _changed(session, session.client.containers.kill(container), as_json=as_json)


@containers.command()
@click.argument("container")
@wait_options
@json_option
@pass_session
def start(
    session: Session, container: str, *, wait: bool, wait_timeout: float, as_json: bool
) -> None:
    """Start a stopped or exited CONTAINER again; its files are kept (an operation)."""
    receipt = session.client.containers.start(container)
    finish(session, receipt, wait=wait, timeout=wait_timeout, as_json=as_json)


@containers.command()
@click.argument("container")
@wait_options
@json_option
@pass_session
def resume(
    session: Session, container: str, *, wait: bool, wait_timeout: float, as_json: bool
) -> None:
    """Resume CONTAINER (as start; an operation)."""
    receipt = session.client.containers.resume(container)
    finish(session, receipt, wait=wait, timeout=wait_timeout, as_json=as_json)


@containers.command("rm")
@click.argument("names", nargs=-1, required=True)
@json_option
@pass_session
def remove(session: Session, names: tuple[str, ...], *, as_json: bool) -> None:
    """Delete containers, whatever their state; nothing of them is left on the host."""
    failed = 0
    for name in names:  # every name is tried; the exit code says if any failed
        try:
            gone = session.client.containers.delete(name)
        except QuiltError as exc:
            Failed.of(exc).show()
            failed += 1
            continue
        session.show(as_json, functools.partial(_deleted, gone))
    if failed:
        sys.exit(1)


def _deleted(gone: Deleted) -> None:
    pending = ", ".join(gone.cleanup_pending)
    out.print(
        f"deleted {gone.container_id}" + (f" (still releasing: {pending})" if pending else "")
    )


@containers.command()
@click.argument("container")
@json_option
@pass_session
def processes(session: Session, container: str, *, as_json: bool) -> None:
    """List the processes inside CONTAINER (pids as the container sees them)."""
    found = session.client.containers.processes(container)
    rows = [{**p.model_dump(), "command": " ".join(p.args) or p.command} for p in found]
    session.show(as_json, lambda: table(rows, ("pid", "ppid", "state", "command"), "no processes"))


@containers.command()
@click.argument("container")
@upload_options
@pass_session
def upload(
    session: Session,
    container: str,
    source: Path,
    path: str,
    strip_components: int | None,
    *,
    wait: bool,
    wait_timeout: float,
    as_json: bool,
) -> None:
    """Upload SOURCE (a directory, or a tar file) into running CONTAINER; an operation."""
    receipt = session.client.containers.upload_archive(
        container, archive(source), path=path, strip_components=strip_components
    )
    finish(session, receipt, wait=wait, timeout=wait_timeout, as_json=as_json)


@containers.group()
def env() -> None:
    """Read and change the environment that new execs see."""


@env.command("get")
@click.argument("container")
@json_option
@pass_session
def env_get(session: Session, container: str, *, as_json: bool) -> None:
    """Print CONTAINER's environment as KEY=VALUE lines."""
    found = session.client.containers.env.get(container)
    session.show(as_json, lambda: _print_env(found))


@env.command("set")
@click.argument("container")
@click.argument("assignments", nargs=-1, required=True, metavar="KEY=VALUE...")
@option("--replace", is_flag=True, help="Replace the whole environment instead of merging.")
@json_option
@pass_session
def env_set(
    session: Session, container: str, assignments: tuple[str, ...], *, replace: bool, as_json: bool
) -> None:
    """Set variables in CONTAINER's environment (merged, or all of it with --replace)."""
    given = pairs(assignments, "KEY=VALUE")
    envs = session.client.containers.env
    found = envs.set(container, given) if replace else envs.patch(container, given)
    session.show(as_json, lambda: _print_env(found))


def _print_env(environment: dict[str, str]) -> None:
    for key, value in environment.items():
        out.print(f"{key}={value}", markup=False)


def _changed(session: Session, container: Container, *, as_json: bool) -> None:
    session.show(as_json, lambda: out.print(f"{container.name} {container.state}"))
