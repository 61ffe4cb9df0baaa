"""The OCI config generated from a runtime spec (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quilt.drivers.runtime import ocispec

if TYPE_CHECKING:
    from pathlib import Path


def spec(**overrides: Any) -> ocispec.RuntimeSpec:
    """A runtime spec with test defaults."""
    values: dict[str, Any] = {
        "container_id": "ctr_1",
        "rootfs": "/r",
        "hostname": "ctr_1",
        "netns_path": "/run/netns/q-1",
        "minit_path": "/opt/minit",
        "command": ("echo", "hi"),
        "environment": {"FOO": "bar"},
        "working_directory": "/app",
        "memory_limit_mb": 256,
        "cpu_limit_percent": 50,
        "pids_limit": 100,
        "strict": False,
    }
    values.update(overrides)
    return ocispec.RuntimeSpec(**values)


def test_minit_is_init_and_runs_the_command_in_the_workdir() -> None:
    """Minit is PID 1 with the command after `--` and the working directory as --cwd."""
    config = ocispec.build_config(spec())
    assert config["process"]["args"] == ["/.quilt/minit", "--cwd", "/app", "--", "echo", "hi"]
    idle = ocispec.build_config(spec(command=None))
    assert idle["process"]["args"] == ["/.quilt/minit", "--cwd", "/app"]


def test_limits_become_cgroup_resources() -> None:
    """Memory (with equal swap), a CFS quota per percent of one CPU, and a pids limit."""
    resources = ocispec.build_config(spec())["linux"]["resources"]
    assert resources["memory"] == {"limit": 256 * 2**20, "swap": 256 * 2**20}
    assert resources["cpu"] == {"quota": 50_000, "period": 100_000}
    assert resources["pids"] == {"limit": 100}


def test_environment_gets_defaults_the_user_can_override() -> None:
    """PATH, HOME and TERM default; the user's values win."""
    env = ocispec.build_config(spec(environment={"PATH": "/x"}))["process"]["env"]
    assert "PATH=/x" in env
    assert "HOME=/root" in env


def test_network_namespace_is_joined_by_path() -> None:
    """The container joins the namespace the node made; it never creates its own."""
    namespaces = ocispec.build_config(spec())["linux"]["namespaces"]
    assert {"type": "network", "path": "/run/netns/q-1"} in namespaces


def test_strict_adds_seccomp_no_new_privs_and_fewer_caps() -> None:
    """Strict sets no_new_privs, a seccomp profile and the reduced capability set."""
    loose = ocispec.build_config(spec())
    hard = ocispec.build_config(spec(strict=True))
    assert loose["process"]["noNewPrivileges"] is False
    assert "seccomp" not in loose["linux"]
    assert hard["process"]["noNewPrivileges"] is True
    assert "mount" in hard["linux"]["seccomp"]["syscalls"][0]["names"]
    assert set(hard["process"]["capabilities"]["bounding"]) < set(
        loose["process"]["capabilities"]["bounding"]
    )
    assert "CAP_NET_RAW" not in hard["process"]["capabilities"]["bounding"]


def test_proc_sys_is_read_only_for_everyone() -> None:
    """/proc/sys is read-only whether or not the container is strict."""
    for strict in (False, True):
        assert "/proc/sys" in ocispec.build_config(spec(strict=strict))["linux"]["readonlyPaths"]


def test_minit_and_binds_are_mounted() -> None:
    """Minit is bound read-only and extra binds keep their mode."""
    bind = ocispec.BindMount("/h/hosts", "/etc/hosts", read_only=False)
    mounts = ocispec.build_config(spec(binds=(bind,)))["mounts"]
    by_dest = {m["destination"]: m for m in mounts}
    assert by_dest["/.quilt/minit"]["source"] == "/opt/minit"
    assert "ro" in by_dest["/.quilt/minit"]["options"]
    assert "rw" in by_dest["/etc/hosts"]["options"]


def test_crun_falls_back_to_runc_on_hybrid_cgroups(tmp_path: Path) -> None:
    """On a hybrid cgroup host crun is replaced by runc, with the reason; elsewhere it is kept."""
    from quilt.drivers.runtime.oci import cgroup_layout, choose_runtime  # noqa: PLC0415

    assert choose_runtime("crun", "hybrid")[0] == "runc"
    assert choose_runtime("crun", "hybrid")[1]
    assert choose_runtime("crun", "unified") == ("crun", None)
    assert choose_runtime("runc", "hybrid") == ("runc", None)
    (tmp_path / "unified").mkdir()
    assert cgroup_layout(tmp_path) == "legacy"
    (tmp_path / "unified" / "cgroup.controllers").touch()
    assert cgroup_layout(tmp_path) == "hybrid"
    (tmp_path / "cgroup.controllers").touch()
    assert cgroup_layout(tmp_path) == "unified"
