"""Exec and process shapes (quilt-api §3.2) and environment routes (§3.4)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from quilt.wire.common import Request


class ExecRequest(Request):
    """`POST …/exec`: argv, optional workdir, timeout and extra environment."""

    command: list[str]
    workdir: str | None = None
    timeout_ms: int | None = Field(default=None, ge=0)
    environment: dict[str, str] = Field(default_factory=dict)
    capture_output: Any = None
    detach: Any = None


class ExecResult(BaseModel):
    """The final, inline exec result (a non-zero exit code is still a 200)."""

    container_id: str
    exit_code: int
    stdout: str
    stderr: str
    execution_time_ms: int
    timed_out: bool
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    job_id: str | None = Field(
        default=None, description="legacy: the finished job, for clients that poll /jobs"
    )
    status: str | None = Field(default=None, description="legacy job status")
    status_url: str | None = Field(default=None, description="legacy: the job's URL")


class Job(BaseModel):
    """A finished exec, as the legacy `/jobs` routes show it."""

    job_id: str
    container_id: str
    command: list[str]
    status: str = Field(description="completed (exit 0), failed (another exit code), timed_out")
    exit_code: int
    timed_out: bool
    execution_time_ms: int
    started_at: str
    completed_at: str
    stdout: str | None = Field(default=None, description="with include_output=true")
    stderr: str | None = None


class JobList(BaseModel):
    """`GET /api/containers/<id>/jobs`: newest first."""

    container_id: str
    jobs: list[Job]


class ProcessInfo(BaseModel):
    """One process inside the container, as its own pid namespace numbers it."""

    pid: int
    ppid: int
    command: str
    args: list[str]
    state: str
    rss_bytes: int


class ProcessList(BaseModel):
    """`GET …/processes`."""

    container_id: str
    processes: list[ProcessInfo]


class Signalled(BaseModel):
    """`DELETE …/processes/<pid>`."""

    success: bool = True
    pid: int
    signal: str


class Environment(BaseModel):
    """`GET …/env` answer, and the body of `PUT`/`PATCH …/env`."""

    environment: dict[str, str]


class EnvironmentUpdate(Request):
    """`PUT`/`PATCH …/env` body."""

    environment: dict[str, str]


class StreamRequest(Request):
    """`POST …/stream`: like exec, but `working_directory`, and output arrives as it is written."""

    command: list[str]
    working_directory: str | None = None
    timeout_ms: int | None = Field(default=None, ge=0)
    environment: dict[str, str] = Field(default_factory=dict)
