"""Request validation rules (pure)."""

from __future__ import annotations

import pytest

from quilt.domain import validation
from quilt.errors import BadRequest, CapacityFull


@pytest.mark.parametrize("name", ["a", "web-1", "A.b_c", "x" * 63])
def test_good_names_pass(name: str) -> None:
    """Names of letters, digits, dot, dash and underscore up to 63 characters pass."""
    assert validation.check_name(name) == name


@pytest.mark.parametrize("name", ["", "-a", "a b", "x" * 64, "a/b", "ünï"])
def test_bad_names_fail_with_an_example(name: str) -> None:
    """Bad names are a 400 whose details carry the expected form and an example."""
    with pytest.raises(BadRequest) as caught:
        validation.check_name(name)
    assert caught.value.details is not None
    assert caught.value.details["example"] == "my-sandbox"


def test_volume_entries_parse() -> None:
    """`name:/path` and `name:/path:ro` parse; targets are normalised."""
    assert validation.parse_volume("data:/workspace") == validation.VolumeMount(
        "data", "/workspace", read_only=False
    )
    assert validation.parse_volume("d_1:/a/../b:ro") == validation.VolumeMount(
        "d_1", "/b", read_only=True
    )


@pytest.mark.parametrize(
    "spec",
    [
        "data",
        "data:relative",
        "/host:/x",
        "./x:/y",
        "data:/",
        "data:/proc",
        "data:/dev/x",
        "data:/x:rx",
        "a:b:c:d",
        "bad name:/x",
    ],
)
def test_bad_volume_entries_are_refused(spec: str) -> None:
    """Host paths, reserved or relative targets and malformed entries are a 400."""
    with pytest.raises(BadRequest):
        validation.parse_volume(spec)


def test_two_volumes_cannot_share_a_target() -> None:
    """Two entries with one target are refused."""
    with pytest.raises(BadRequest):
        validation.parse_volumes(["a:/x", "b:/x"])


def test_gpu_shape_is_checked_before_capacity() -> None:
    """A bad GPU shape is a 400 even on a host with no GPUs; a good shape is 503 with a hint."""
    with pytest.raises(BadRequest):
        validation.check_gpus(2, ["nvidia0"], host_gpus=())
    with pytest.raises(CapacityFull) as caught:
        validation.check_gpus(1, [], host_gpus=())
    assert caught.value.hint
    validation.check_gpus(1, ["nvidia0"], host_gpus=("nvidia0",))
    validation.check_gpus(0, [], host_gpus=())


def test_limits_are_bounded_by_the_host() -> None:
    """Memory and CPU limits must fit the host."""
    validation.check_limits(64, 50, host_memory_mb=1024, host_cpus=2)
    validation.check_limits(1024, 200, host_memory_mb=1024, host_cpus=2)
    for memory, cpu in ((8, 50), (2048, 50), (64, 0.5), (64, 201)):
        with pytest.raises(BadRequest):
            validation.check_limits(memory, cpu, host_memory_mb=1024, host_cpus=2)


def test_environment_keys_must_be_identifiers() -> None:
    """Environment keys are shell identifiers and values carry no NUL."""
    assert validation.check_environment({"A_1": "x"}) == {"A_1": "x"}
    for env in ({"1A": "x"}, {"A-B": "x"}, {"A": "x\0y"}, {"": "x"}):
        with pytest.raises(BadRequest):
            validation.check_environment(env)


def test_gui_image_refuses_a_command() -> None:
    """prod-gui with a command is refused; other images accept one."""
    with pytest.raises(BadRequest):
        validation.check_gui_command("prod-gui", ["sh"])
    validation.check_gui_command("prod-gui", None)
    validation.check_gui_command("prod", ["sh"])
