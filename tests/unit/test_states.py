"""Container state machine and readiness derivation (pure)."""

from __future__ import annotations

import pytest

from quilt.domain import states
from quilt.domain.readiness import Checks, evaluate
from quilt.domain.states import ContainerState as S


def test_running_container_may_stop_exit_or_fail_but_not_start() -> None:
    """A running container can end in any way, but starting it again is not a transition."""
    assert states.can_transition(S.RUNNING, S.STOPPED)
    assert states.can_transition(S.RUNNING, S.EXITED)
    assert not states.can_transition(S.RUNNING, S.STARTING)
    assert not states.can_start(S.RUNNING)


@pytest.mark.parametrize("state", [S.STOPPED, S.EXITED, S.ERROR, S.CREATED])
def test_ended_containers_can_start_again(state: S) -> None:
    """Stopped, exited, errored and created containers may be started."""
    assert states.can_start(state)
    assert not states.can_exec(state)


def test_only_running_containers_take_execs() -> None:
    """Exec needs exactly the running state."""
    assert [s for s in S if states.can_exec(s)] == [S.RUNNING]


def test_exit_after_stop_request_is_stopped() -> None:
    """A main command that ends because we stopped it is `stopped`; on its own, `exited`."""
    assert states.state_after_main_exit(stop_requested=True) is S.STOPPED
    assert states.state_after_main_exit(stop_requested=False) is S.EXITED


def test_exec_ready_needs_running_minit_and_valid_image() -> None:
    """exec_ready is the conjunction of the three checks; network_ready is separate."""
    good = Checks(
        state_running=True,
        minit_responsive=True,
        network_configured=False,
        managed_image_valid=True,
    )
    assert evaluate(good).exec_ready
    assert not evaluate(good).network_ready
    for broken in ("state_running", "minit_responsive", "managed_image_valid"):
        checks = Checks(**{**good.__dict__, broken: False})
        assert not evaluate(checks).exec_ready


def test_gui_ready_only_for_gui_checks() -> None:
    """gui_ready is None unless the GUI probe applies."""
    base = Checks(
        state_running=True, minit_responsive=True, network_configured=True, managed_image_valid=True
    )
    assert evaluate(base).gui_ready is None
    gui = Checks(**{**base.__dict__, "gui_backend_reachable": True})
    assert evaluate(gui).gui_ready is True
