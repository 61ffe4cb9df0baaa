"""Parsing /proc/<pid>/cgroup and flat-keyed cgroup files (pure)."""

from __future__ import annotations

from quilt.drivers.runtime import cgroups


def test_proc_cgroup_maps_each_controller() -> None:
    """Every v1 controller, named hierarchies and the v2 tree get their path."""
    text = "9:name=systemd:/c1\n4:memory:/outer/c1\n2:cpu,cpuacct:/c1\n0::/c1\n"
    paths = cgroups.parse_proc_cgroup(text)
    assert paths["memory"] == "/outer/c1"
    assert paths["cpu"] == paths["cpuacct"] == "/c1"
    assert paths["systemd"] == "/c1"
    assert paths[""] == "/c1"


def test_flat_keyed_files_parse_integers() -> None:
    """`key value` lines become ints; other lines are ignored."""
    assert cgroups.parse_flat_keyed("user 12\nsystem 3\nweird x\n") == {"user": 12, "system": 3}
