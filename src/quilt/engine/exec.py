"""Exec and processes: run commands inside a running container and list or signal its processes."""

from __future__ import annotations

import errno
import signal
from collections import deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from quilt.domain import states, validation
from quilt.domain.ids import new_job_id
from quilt.domain.records import now
from quilt.drivers.runtime.minit import Failed, MinitUnavailable, Started
from quilt.engine.containers import conflict
from quilt.errors import BadRequest, NotFound, QuiltError, ServiceUnavailable

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Mapping, Sequence
    from datetime import datetime

    from quilt.domain.ids import TenantId
    from quilt.domain.records import ContainerRecord
    from quilt.drivers.runtime.minit import Event, ExecOutcome
    from quilt.engine.containers import Containers
    from quilt.node.interface import ProcessEntry


def parse_signal(name: str) -> signal.Signals:
    """`TERM`, `SIGTERM` or `15` → SIGTERM; anything else is a 400."""
    text = name.strip().upper()
    try:
        if text.isdigit():
            return signal.Signals(int(text))
        return signal.Signals[text if text.startswith("SIG") else "SIG" + text]
    except (KeyError, ValueError) as exc:
        raise BadRequest(
            f"unknown signal {name!r}",
            details={
                "expected": ["TERM", "KILL", "INT", "HUP", "a signal number"],
                "received": name,
            },
        ) from exc


# Legacy exec jobs: how many finished execs each container remembers, and how much output.
JOBS_KEPT: Final = 32
JOB_OUTPUT_KEPT: Final = 64 * 1024


@dataclass(frozen=True)
class Job:
    """A finished exec, remembered for the legacy `/jobs` routes older clients poll."""

    job_id: str
    container_id: str
    command: tuple[str, ...]
    outcome: ExecOutcome
    started_at: datetime
    completed_at: datetime

    @property
    def status(self) -> str:
        """`completed` (exit 0), `failed` (another exit code) or `timed_out`."""
        if self.outcome.timed_out:
            return "timed_out"
        return "completed" if self.outcome.exit_code == 0 else "failed"


def _kept(job: Job) -> Job:
    """The job as the legacy routes remember it: at most `JOB_OUTPUT_KEPT` of each stream."""
    outcome = job.outcome
    if len(outcome.stdout) <= JOB_OUTPUT_KEPT and len(outcome.stderr) <= JOB_OUTPUT_KEPT:
        return job  # most execs: nothing to cut, nothing to copy
    kept = replace(
        outcome,
        stdout=outcome.stdout[:JOB_OUTPUT_KEPT],
        stderr=outcome.stderr[:JOB_OUTPUT_KEPT],
        stdout_truncated=outcome.stdout_truncated or len(outcome.stdout) > JOB_OUTPUT_KEPT,
        stderr_truncated=outcome.stderr_truncated or len(outcome.stderr) > JOB_OUTPUT_KEPT,
    )
    return replace(job, outcome=kept)


class Exec:
    """The exec concern."""

    def __init__(
        self, containers: Containers, *, output_limit: int, default_timeout_ms: int
    ) -> None:
        self.containers = containers
        self.output_limit = output_limit
        self.default_timeout_ms = default_timeout_ms
        self._jobs: dict[str, deque[Job]] = {}
        containers.store.containers.watchers.append(self._forget)

    def _forget(self, record: ContainerRecord, gone: bool) -> None:
        if gone:
            self._jobs.pop(record.container_id, None)

    def _prepare(
        self,
        tenant_id: TenantId,
        container_id: str,
        command: Sequence[str],
        workdir: str | None,
        environment: Mapping[str, str],
        field: str,
    ) -> tuple[ContainerRecord, tuple[str, ...], dict[str, str], str]:
        """The container (it must be running), argv, full environment and working directory."""
        record = self.containers.get(tenant_id, container_id, shared=True)
        argv = validation.check_argv(command)
        env = validation.check_environment(environment)
        cwd = validation.check_path(workdir, field=field) if workdir else record.working_directory
        if not states.can_exec(record.state):
            raise conflict(record, "exec in")
        return record, argv, record.environment | env, cwd

    def _unavailable(self, tenant_id: TenantId, container_id: str) -> QuiltError:
        """Why minit did not answer: the container stopped meanwhile (409), or a 503."""
        current = self.containers.get(tenant_id, container_id)
        if not states.can_exec(current.state):
            return conflict(current, "exec in")
        return ServiceUnavailable(
            f"container {container_id} is running but its init does not answer",
            details={"state": current.state.value},
            hint="check GET /api/containers/<id>/ready; restart the container if it persists",
        )

    async def stream(
        self,
        tenant_id: TenantId,
        container_id: str,
        command: Sequence[str],
        *,
        working_directory: str | None,
        timeout_ms: int | None,
        environment: Mapping[str, str],
    ) -> tuple[Started, AsyncGenerator[Event, None]]:
        """Start `command` and return its start and the rest of its events as they happen.

        Failing to start is an error here, before any byte of a streamed answer is sent.
        Closing the iterator hangs up, and minit then kills the command's process group.
        """
        record, argv, env, cwd = self._prepare(
            tenant_id, container_id, command, working_directory, environment, "working_directory"
        )
        timeout = timeout_ms or self.default_timeout_ms
        events = self.containers.node.stream(
            record.container_id, argv, env, cwd, timeout_ms=timeout or None
        )
        try:
            first = await anext(events)
        except MinitUnavailable as exc:
            raise self._unavailable(tenant_id, container_id) from exc
        if isinstance(first, Failed):
            await events.aclose()
            raise ServiceUnavailable(f"cannot start {argv[0]!r}: {first.message}")
        if not isinstance(first, Started):
            await events.aclose()
            raise ServiceUnavailable(f"minit answered {first!r} before starting {argv[0]!r}")
        return first, events

    async def run(
        self,
        tenant_id: TenantId,
        container_id: str,
        command: Sequence[str],
        *,
        workdir: str | None,
        timeout_ms: int | None,
        environment: Mapping[str, str],
    ) -> Job:
        """Run `command` to completion inside the container; its outcome, as a job."""
        record, argv, env, cwd = self._prepare(
            tenant_id, container_id, command, workdir, environment, "workdir"
        )
        timeout = timeout_ms or self.default_timeout_ms
        started = now()
        try:
            outcome = await self.containers.node.exec(
                record.container_id,
                argv,
                env,
                cwd,
                timeout_ms=timeout or None,
                output_limit=self.output_limit,
            )
        except MinitUnavailable as exc:
            raise self._unavailable(tenant_id, container_id) from exc
        job = Job(new_job_id(), record.container_id, argv, outcome, started, now())
        jobs = self._jobs.get(record.container_id)
        if jobs is None:
            jobs = self._jobs[record.container_id] = deque(maxlen=JOBS_KEPT)
        jobs.append(_kept(job))
        return job

    def jobs(self, tenant_id: TenantId, container_id: str) -> list[Job]:
        """The container's remembered execs, newest first."""
        record = self.containers.get(tenant_id, container_id)
        return list(reversed(self._jobs.get(record.container_id, ())))

    def job(self, tenant_id: TenantId, container_id: str, job_id: str) -> Job:
        """One remembered exec of the container."""
        for job in self.jobs(tenant_id, container_id):
            if job.job_id == job_id:
                return job
        raise NotFound(
            f"job {job_id} does not exist in container {container_id}",
            hint=f"a container remembers its last {JOBS_KEPT} execs",
        )

    def processes(self, tenant_id: TenantId, container_id: str) -> list[ProcessEntry]:
        """The container's processes (empty when it is not running)."""
        record = self.containers.get(tenant_id, container_id)
        return self.containers.node.processes(record.container_id)

    async def signal(
        self, tenant_id: TenantId, container_id: str, pid: int, sig: str
    ) -> signal.Signals:
        """Signal one process inside the container by its in-container pid."""
        record = self.containers.get(tenant_id, container_id)
        parsed = parse_signal(sig)
        if not states.can_exec(record.state):
            raise conflict(record, "signal a process in")
        if pid < 1:
            raise BadRequest(
                "pid must be a positive in-container process id", details={"received": str(pid)}
            )
        result = await self.containers.node.signal_process(record.container_id, pid, parsed.value)
        if result == errno.ESRCH:
            raise NotFound(f"no process {pid} in container {container_id}")
        if result != 0:
            raise BadRequest(f"cannot signal process {pid}: {errno.errorcode.get(result, result)}")
        return parsed
