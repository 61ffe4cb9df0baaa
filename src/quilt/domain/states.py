"""Container and operation states, and which transitions and actions each state allows."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class ContainerState(StrEnum):
    """Where a container is in its life (the wire `state`)."""

    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    STOPPED = "stopped"
    EXITED = "exited"
    ERROR = "error"


class OperationStatus(StrEnum):
    """Where an operation is; the last four are terminal."""

    ACCEPTED = "accepted"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


TERMINAL_OPERATION: Final = frozenset(
    {
        OperationStatus.SUCCEEDED,
        OperationStatus.FAILED,
        OperationStatus.CANCELLED,
        OperationStatus.TIMED_OUT,
    }
)

S = ContainerState
TRANSITIONS: Final[dict[ContainerState, frozenset[ContainerState]]] = {
    S.CREATED: frozenset({S.STARTING, S.RUNNING, S.ERROR}),
    S.STARTING: frozenset({S.RUNNING, S.ERROR, S.EXITED, S.STOPPED}),
    S.RUNNING: frozenset({S.STOPPED, S.EXITED, S.ERROR}),
    S.STOPPED: frozenset({S.STARTING, S.RUNNING, S.ERROR}),
    S.EXITED: frozenset({S.STARTING, S.RUNNING, S.ERROR}),
    S.ERROR: frozenset({S.STARTING, S.RUNNING}),
}

# States from which `start` and `resume` may run the container again on its kept filesystem.
STARTABLE: Final = frozenset({S.CREATED, S.STOPPED, S.EXITED, S.ERROR})
# States in which something is (or may be) running on the host and can be signalled.
LIVE: Final = frozenset({S.STARTING, S.RUNNING})


def can_transition(current: ContainerState, target: ContainerState) -> bool:
    """Whether a container may move from `current` to `target`."""
    return target in TRANSITIONS[current]


def can_exec(state: ContainerState) -> bool:
    """Exec needs a running container."""
    return state is S.RUNNING


def can_start(state: ContainerState) -> bool:
    """Start and resume need a container that is not running."""
    return state in STARTABLE


def can_stop(state: ContainerState) -> bool:
    """Stop and kill act on a live container; on a finished one they change nothing."""
    return state in LIVE


def state_after_main_exit(*, stop_requested: bool) -> ContainerState:
    """A main command that ended on its own is `exited`; one we stopped or killed is `stopped`."""
    return S.STOPPED if stop_requested else S.EXITED
