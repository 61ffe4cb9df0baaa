"""Typed request options: the optional JSON body fields of each route, under their wire names.

Methods take these as keyword arguments (`**options: Unpack[ContainerSpec]`), so a type
checker knows every field while the SDK sends them through unchanged.
"""

from __future__ import annotations

from typing import Literal, Required, TypedDict

ConsistencyMode = Literal["crash-consistent", "app-consistent"]
NetworkMode = Literal["reset", "preserve_ns", "preserve_conn_best_effort"]
VolumeMode = Literal["exclude", "include_named", "include_all_allowed"]
ResumePolicy = Literal["immediate", "manual"]


class ContainerSpec(TypedDict, total=False):
    """Optional fields of `POST /api/containers` (`name` is given separately)."""

    image: str
    oci: bool
    command: list[str]
    environment: dict[str, str]
    working_directory: str
    volumes: list[str]  # "<volume-name>:<absolute target>"
    memory_limit_mb: int
    cpu_limit_percent: float
    strict: bool
    labels: dict[str, str]
    gpu_count: int
    gpu_ids: list[str]


class NewContainer(ContainerSpec, total=False):
    """One item of a batch create: a name and the same optional fields."""

    name: Required[str]


class CaptureOptions(TypedDict, total=False):
    """How a snapshot or fork captures the container."""

    consistency_mode: ConsistencyMode
    network_mode: NetworkMode
    volume_mode: VolumeMode


class SnapshotOptions(CaptureOptions, total=False):
    """Optional fields of `POST /api/containers/<id>/snapshot`."""

    ttl_seconds: int
    labels: dict[str, str]


class CloneOptions(TypedDict, total=False):
    """Optional fields of `POST /api/snapshots/<id>/clone`."""

    name: str
    labels: dict[str, str]
    resume_policy: ResumePolicy


class ForkOptions(CaptureOptions, total=False):
    """Optional fields of `POST /api/containers/<id>/fork`."""

    name: str
    labels: dict[str, str]
    resume_policy: ResumePolicy
    count: int


class VolumeOptions(TypedDict, total=False):
    """Optional fields of `POST /api/volumes`."""

    driver: str
    labels: dict[str, str]
    size_limit_mb: int


class ServiceOptions(TypedDict, total=False):
    """Optional fields of `POST /api/containers/<id>/services`."""

    protocol: str
    enable_websockets: bool
    auth_mode: Literal["service_token", "public"]
    ttl_secs: int


class SessionOptions(TypedDict, total=False):
    """Optional fields of `POST /api/terminal/sessions`."""

    cols: int
    rows: int
    shell: str
    target: str
