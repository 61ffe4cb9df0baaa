"""Saved-state benchmark: snapshot, fork, clone, and 10 forks at once, beside `cp -a` and `tar`.

A container of a real server (busybox image) writes 10,000 files / 50 MB; then, in one run:
- snapshot: the pause window (`result.pause_ms`) and the whole operation (receipt → succeeded,
  from the operation's own timestamps);
- `cp -a` and `tar c | tar x` of that container's writable upper directory, on the same pool;
- fork → an exec-ready child; clone of a snapshot → an exec-ready container (POST until the
  operation reports success; the node only reports a container once minit answers);
- 10 forks in one call;
- the snapshot again once btrfs quotas are on (a size-limited volume turns them on).

Usage: `.venv/bin/python bench/snapshots.py [-n 20]`; writes its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import quilt_server, timed
from report import Row, ratios, write_section

if TYPE_CHECKING:
    import httpx

FILES, FILE_BYTES = 10_000, 5_000  # 50 MB in all
TENANT = {"X-Tenant-Id": "ten_bench"}
WRITE = (
    'mkdir -p /data && awk \'BEGIN { s = "x"; while (length(s) < '
    f"{FILE_BYTES}) s = s s; s = substr(s, 1, {FILE_BYTES}); for (i = 0; i < {FILES}; i++) "
    '{ f = "/data/f" i; printf "%s", s > f; close(f) } }\''
)


def follow(client: httpx.Client, method: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
    """Send an operation request and poll until it is terminal; fail loudly otherwise."""
    receipt = client.request(method, url, json=body, headers=TENANT)
    receipt.raise_for_status()
    status_url = receipt.json()["status_url"]
    while True:
        op = client.get(status_url).json()
        if op["status"] in {"succeeded", "failed", "cancelled", "timed_out"}:
            if op["status"] != "succeeded":
                raise SystemExit(f"{method} {url} failed: {op}")
            return op
        time.sleep(0.002)


def elapsed_ms(op: dict[str, Any]) -> float:
    """Milliseconds from the operation's creation to its completion, by its own clock."""
    start = datetime.fromisoformat(op["created_at"])
    end = datetime.fromisoformat(op["completed_at"])
    return (end - start).total_seconds() * 1000


def upper_of(data_dir: Path, container_id: str) -> Path:
    """The container's writable upper directory inside the mounted storage pool."""
    for line in Path("/proc/mounts").read_text().splitlines():
        _, mount_point, fstype = line.split()[:3]
        if fstype == "btrfs" and mount_point.startswith(str(data_dir)):
            return Path(mount_point) / "containers" / container_id / "upper"
    raise SystemExit(f"no btrfs pool mounted under {data_dir}")


def take_snapshots(
    client: httpx.Client, cid: str, n: int, pause: list[float], whole: list[float]
) -> list[str]:
    """Snapshot the container `n` times, adding to the timings; the snapshots' ids."""
    ids = []
    for _ in range(n):
        op = follow(client, "POST", f"/api/containers/{cid}/snapshot", {})
        pause.append(float(op["result"]["pause_ms"]))
        whole.append(elapsed_ms(op))
        ids.append(op["result"]["snapshot_id"])
    return ids


def bench(work: Path, n: int) -> tuple[list[Row], list[str]]:
    """Every measurement, on one server and one prepared container."""
    pause: list[float] = []
    snapshot_ms: list[float] = []
    cp_ms: list[float] = []
    tar_ms: list[float] = []
    fork_ms: list[float] = []
    clone_ms: list[float] = []
    forks10_ms: list[float] = []
    quota_pause: list[float] = []
    control_pause: list[float] = []
    control_ms: list[float] = []
    quota_ms: list[float] = []
    with quilt_server(work, pool=0) as (client, _pid):
        cid = client.post("/api/containers", json={"name": "state"}).json()["container_id"]
        wrote = client.post(
            f"/api/containers/{cid}/exec",
            json={"command": ["/bin/sh", "-c", WRITE], "timeout_ms": 600_000},
        ).json()
        assert wrote["exit_code"] == 0, wrote
        upper = upper_of(work / "data", cid)
        copies = upper.parent.parent.parent / "bench-copies"
        copies.mkdir()
        snapshot_ids = take_snapshots(client, cid, n, pause, snapshot_ms)
        # The baselines afterwards, each copy removed and flushed before the next, so that
        # neither side pays for the other's writes.
        for i in range(n):
            for kind, command in (
                ("cp", f"cp -a {upper} {copies}/{i}"),
                (
                    "tar",
                    f"mkdir {copies}/{i} && tar -C {upper} -cf - . | tar -C {copies}/{i} -xf -",
                ),
            ):
                ms = timed(lambda c=command: subprocess.run(c, shell=True, check=True))  # noqa: S602
                (cp_ms if kind == "cp" else tar_ms).append(ms)
                shutil.rmtree(copies / str(i))
                subprocess.run(["sync", "-f", str(copies)], check=True)
        for i in range(n):
            start = time.perf_counter()
            op = follow(client, "POST", f"/api/containers/{cid}/fork", {"name": f"fork{i}"})
            child = op["result"]["container_id"]
            assert (
                client.post(f"/api/containers/{child}/exec", json={"command": ["true"]}).json()[
                    "exit_code"
                ]
                == 0
            )
            fork_ms.append((time.perf_counter() - start) * 1000)
            client.delete(f"/api/containers/{child}")
            start = time.perf_counter()
            op = follow(client, "POST", f"/api/snapshots/{snapshot_ids[0]}/clone", {})
            child = op["result"]["container_id"]
            assert (
                client.post(f"/api/containers/{child}/exec", json={"command": ["true"]}).json()[
                    "exit_code"
                ]
                == 0
            )
            clone_ms.append((time.perf_counter() - start) * 1000)
            client.delete(f"/api/containers/{child}")
        for i in range(max(3, n // 4)):
            start = time.perf_counter()
            op = follow(
                client, "POST", f"/api/containers/{cid}/fork", {"name": f"ten{i}", "count": 10}
            )
            forks10_ms.append((time.perf_counter() - start) * 1000)
            for child in op["result"]["container_ids"]:
                client.delete(f"/api/containers/{child}")
        # Last, because it cannot be undone for this pool: a size-limited volume switches
        # btrfs quotas on; the same snapshots again show what they cost captures. Both sides
        # start once btrfs has finished reclaiming the deleted forks and clones.
        subprocess.run(["btrfs", "subvolume", "sync", str(upper.parents[2])], check=True)
        snapshot_ids += take_snapshots(client, cid, n, control_pause, control_ms)
        client.post("/api/volumes", json={"name": "capped", "size_limit_mb": 64}).raise_for_status()
        snapshot_ids += take_snapshots(client, cid, n, quota_pause, quota_ms)
        for snapshot_id in snapshot_ids:
            client.delete(f"/api/snapshots/{snapshot_id}", headers=TENANT)
        client.delete(f"/api/containers/{cid}")
        follow(client, "DELETE", "/api/volumes/capped", {})
    what = f"{FILES:,} files / {FILES * FILE_BYTES // 1_000_000} MB"
    rows: list[Row] = [
        ("quilt", f"snapshot: pause window ({what})", pause),
        ("quilt", f"snapshot: whole operation ({what})", snapshot_ms),
        ("cp -a", f"copy of the same upper ({what})", cp_ms),
        ("tar", f"tar c | tar x of the same upper ({what})", tar_ms),
        ("quilt", "fork → exec-ready child", fork_ms),
        ("quilt", "clone → exec-ready container", clone_ms),
        ("quilt", "10 forks in one call", forks10_ms),
        ("quilt, later", f"snapshot: pause window ({what})", control_pause),
        ("quilt, later", f"snapshot: whole operation ({what})", control_ms),
        ("quilt + quotas", f"snapshot: pause window ({what})", quota_pause),
        ("quilt + quotas", f"snapshot: whole operation ({what})", quota_ms),
    ]
    pairs = [
        (
            ("quilt", f"snapshot: whole operation ({what})"),
            ("cp -a", f"copy of the same upper ({what})"),
        ),
        (
            ("quilt", f"snapshot: whole operation ({what})"),
            ("tar", f"tar c | tar x of the same upper ({what})"),
        ),
    ]
    return rows, ratios(rows, pairs)


def main() -> None:
    """Run the measurements and write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=20, help="runs per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="quilt-bench-") as tmp:
        rows, notes = bench(Path(tmp), args.n)
    write_section(
        "Snapshots, forks and clones",
        f"Measured by `bench/snapshots.py -n {args.n}` on the btrfs storage pool,",
        rows,
        notes,
    )


if __name__ == "__main__":
    main()
