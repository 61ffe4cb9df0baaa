"""Core benchmark: create → exec-ready, exec round trip, stop, delete; Quilt beside its baselines.

Runs, in one process and one sitting, on the same busybox root filesystem:
- Quilt over HTTP (a real `quilt serve` on loopback): create with the warm pool and cold,
  exec of `true`, stop, delete, and idle host memory per running container;
- the raw OCI runtimes: `runc`/`crun` `run -d` (+ first `exec`), `exec`, `kill` + `delete`
  (crun, which refuses a hybrid cgroup layout, in a mount namespace that hides the v2 tree);
- podman: `podman run -d` + first `podman exec`, `podman exec`, `podman rm -f`.

Prints a table and writes docs/benchmarks.md. Usage: `.venv/bin/python bench/core.py [-n 100]`;
`--only exec` measures just the exec round trip beside `runc exec` and `crun exec` and writes
nothing.
"""

from __future__ import annotations

import argparse
import ctypes
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from report import Row, ratios, table, write_section

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
KEY = "quilt_sk_bench_" + os.urandom(6).hex()


def timed(fn: Callable[[], Any]) -> float:
    """Milliseconds one call takes."""
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run a command quietly."""
    return subprocess.run(argv, capture_output=True, check=check)


# -- Quilt ------------------------------------------------------------------------------


@contextmanager
def quilt_server(work: Path, *, pool: int) -> Iterator[tuple[httpx.Client, int]]:
    """A real server on loopback with the busybox image and a private bridge."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "QUILT_DATA_DIR": str(work / "data"),
        "QUILT_API_KEYS": f"{KEY}:ten_bench",
        "QUILT_BRIDGE": "qbench0",
        "QUILT_SUBNET": "10.251.0.0/22",
        "QUILT_DEFAULT_IMAGE": "busybox",
        "QUILT_WARM_POOL_IMAGES": "busybox",
        "QUILT_WARM_POOL_SIZE": str(pool),
        "QUILT_LOG_LEVEL": "warning",
        "QUILT_POOL_SIZE_GB": "8",
    }
    log = (work / f"server-{port}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "quilt.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"X-Api-Key": KEY}, timeout=60
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"server did not start: see {log.name}")
            time.sleep(0.05)
        yield client, proc.pid
    finally:
        client.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "quilt.cli.main",
                "purge",
                "--data-dir",
                str(work / "data"),
                "--yes",
            ],
            env=env,
            check=False,
            capture_output=True,
        )


def wait_pool(client: httpx.Client, size: int) -> None:
    """Wait until the warm pool is full again."""
    deadline = time.monotonic() + 30
    while client.get("/api/containers/health").json()["warm_pool"].get("busybox", 0) < size:
        if time.monotonic() > deadline:
            raise SystemExit("the warm pool did not refill")
        time.sleep(0.01)


def host_rss_kib(pids: list[int]) -> int:
    """Sum of RSS of processes on the host side (kB)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def bench_quilt(work: Path, n: int) -> tuple[list[Row], dict[str, float]]:
    """Create (warm and cold), exec, stop, delete through the HTTP API."""
    rows: list[Row] = []
    extra: dict[str, float] = {}
    for label, pool in (("warm pool", 1), ("cold", 0)):
        create: list[float] = []
        exec_rows: list[Row] = []
        stop: list[float] = []
        delete: list[float] = []
        with quilt_server(work, pool=pool) as (client, server_pid):
            for i in range(n):
                if pool:
                    wait_pool(client, pool)
                t = time.perf_counter()
                body = client.post("/api/containers", json={"name": f"b{i}"}).json()
                create.append((time.perf_counter() - t) * 1000)
                assert body["exec_ready"], body
                cid = body["container_id"]
                stop.append(timed(lambda c=cid: client.post(f"/api/containers/{c}/stop")))
                delete.append(timed(lambda c=cid: client.delete(f"/api/containers/{c}")))
            if pool == 0:
                exec_rows = exec_rounds(client, n)
                # Host cost of an idle container outside its own processes: the server's
                # memory growth plus any helper process left on the host (runc leaves none).
                before = host_rss_kib([server_pid])
                ids = [
                    client.post("/api/containers", json={"name": f"idle{i}"}).json()["container_id"]
                    for i in range(20)
                ]
                after = host_rss_kib([server_pid, *_host_side_pids()])
                extra["host_rss_per_container_kib"] = max(0, after - before) / 20
                for cid in ids:
                    client.delete(f"/api/containers/{cid}")
        rows.append(("quilt", f"create → exec_ready ({label})", create))
        rows += exec_rows
        rows.append(("quilt", f"stop ({label})", stop))
        rows.append(("quilt", f"delete ({label})", delete))
    return rows, extra


LEAN = "exec `true` round trip"
HTTPX = "exec `true` round trip (httpx client)"


def exec_rounds(client: httpx.Client, n: int) -> list[Row]:
    """Exec in steady state: one running container, many commands, as an agent's loop does.

    Two clients take turns on the same container: a lean one (the standard library's
    `http.client` on a kept-alive connection, as a Go or Node agent would talk) and httpx,
    whose own Python cost per request is about a millisecond. The first exec after a create
    is in the create figure already.
    """
    cid = client.post("/api/containers", json={"name": "exec"}).json()["container_id"]
    lean = http.client.HTTPConnection(client.base_url.host, client.base_url.port)
    headers = {"X-Api-Key": client.headers["X-Api-Key"], "Content-Type": "application/json"}
    body = json.dumps({"command": ["true"]})
    path = f"/api/containers/{cid}/exec"

    def lean_exec() -> None:
        lean.request("POST", path, body=body, headers=headers)
        answer = lean.getresponse()
        if answer.status != 200:
            raise SystemExit(f"exec answered {answer.status}: {answer.read()!r}")
        json.loads(answer.read())

    lean_ms: list[float] = []
    httpx_ms: list[float] = []
    for i in range(10 * n + 20):
        lean_took = timed(lean_exec)
        httpx_took = timed(lambda: client.post(path, json={"command": ["true"]}).raise_for_status())
        if i >= 20:  # the first few warm the page cache and the connections
            lean_ms.append(lean_took)
            httpx_ms.append(httpx_took)
    lean.close()
    client.delete(f"/api/containers/{cid}")
    return [("quilt", LEAN, lean_ms), ("quilt", HTTPX, httpx_ms)]


def bench_exec(work: Path, rootfs: Path, n: int) -> list[Row]:
    """Only the exec round trip beside runc's and crun's (for working on exec; no report)."""
    with quilt_server(work, pool=0) as (client, _):
        rows = exec_rounds(client, n)
    baselines = bench_runtime("runc", rootfs, work, n) + bench_crun(rootfs, work, n)
    return rows + [r for r in baselines if r[1] == "exec `true`"]


def _host_side_pids() -> list[int]:
    """Runtime helper processes on the host (shims, monitors), if any are running."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            comm = (proc / "comm").read_text().strip()
        except OSError:
            continue
        if comm in ("runc", "crun", "conmon", "containerd-shim"):
            pids.append(int(proc.name))
    return pids


# -- raw runtimes and podman --------------------------------------------------------------


def busybox_rootfs() -> Path:
    """The busybox image's root filesystem from the image cache."""
    sys.path.insert(0, str(ROOT / "src"))
    from quilt.drivers.storage.images import ImageStore  # noqa: PLC0415
    from quilt.settings import Settings  # noqa: PLC0415

    image = ImageStore(Settings().image_cache).ensure("busybox")
    return image.layers[0]


def bench_runtime(runtime: str, rootfs: Path, work: Path, n: int) -> list[Row]:
    """`run -d` + first exec, exec, and kill + delete with a raw OCI runtime."""
    if shutil.which(runtime) is None:
        return []
    bundle = work / f"bundle-{runtime}"
    bundle.mkdir()
    sh(runtime, "spec", "--bundle", str(bundle))
    config = json.loads((bundle / "config.json").read_text())
    config["root"] = {"path": str(rootfs), "readonly": True}
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/sleep", "3600"]
    (bundle / "config.json").write_text(json.dumps(config))
    root = work / f"state-{runtime}"
    create: list[float] = []
    exec_ms: list[float] = []
    delete: list[float] = []
    log = (work / f"{runtime}.log").open("wb")
    for i in range(n):
        cid = f"qb-{runtime}-{i}"
        start = time.perf_counter()
        ok = subprocess.run(
            [runtime, "--root", str(root), "run", "-d", "-b", str(bundle), cid],
            stdout=log,
            stderr=log,
            check=False,
        )
        if ok.returncode != 0:
            log.close()
            return [(runtime, "run -d (failed on this host)", [0.0])]
        sh(runtime, "--root", str(root), "exec", cid, "/bin/true")
        create.append((time.perf_counter() - start) * 1000)
        for _ in range(3):
            exec_ms.append(
                timed(lambda c=cid: sh(runtime, "--root", str(root), "exec", c, "/bin/true"))
            )
        delete.append(
            timed(
                lambda c=cid: (
                    sh(runtime, "--root", str(root), "kill", c, "KILL"),
                    _wait_stopped(runtime, root, c),
                    sh(runtime, "--root", str(root), "delete", c),
                )
            )
        )
    log.close()
    return [
        (runtime, "run -d + first exec", create),
        (runtime, "exec `true`", exec_ms),
        (runtime, "kill + delete", delete),
    ]


CLONE_NEWNS = 0x00020000
UNIFIED = Path("/sys/fs/cgroup/unified")  # the v2 tree of a hybrid cgroup layout


def bench_crun(rootfs: Path, work: Path, n: int) -> list[Row]:
    """`bench_runtime("crun")`, on a hybrid cgroup host in a view crun accepts.

    crun refuses hybrid layouts (v1 controllers plus a v2 tree at /sys/fs/cgroup/unified).
    A child process unshares its mount namespace and unmounts that v2 tree there only, so
    crun sees plain v1 controllers; the host's own mounts are untouched.
    """
    if shutil.which("crun") is None:
        return []
    if not (UNIFIED / "cgroup.controllers").exists():
        return bench_runtime("crun", rootfs, work, n)
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: measure, send the rows as JSON, never return into the parent
        code = 1
        try:
            os.close(reader)
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.unshare(CLONE_NEWNS) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
            sh("mount", "--make-rprivate", "/")
            sh("umount", str(UNIFIED))
            rows = bench_runtime("crun", rootfs, work, n)
            with os.fdopen(writer, "w") as out:
                json.dump(rows, out)
            code = 0
        finally:
            os._exit(code)
    os.close(writer)
    with os.fdopen(reader) as answer:
        sent = answer.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not sent:
        return [("crun", "run -d (failed on this host)", [0.0])]
    return [(system, measure, values) for system, measure, values in json.loads(sent)]


def _wait_stopped(runtime: str, root: Path, cid: str) -> None:
    while True:
        state = json.loads(sh(runtime, "--root", str(root), "state", cid).stdout)
        if state["status"] == "stopped":
            return
        time.sleep(0.001)


def bench_podman(rootfs: Path, n: int) -> list[Row]:
    """`podman run -d` + first exec, exec, and rm -f on the same root filesystem."""
    if shutil.which("podman") is None:
        return []
    create: list[float] = []
    exec_ms: list[float] = []
    delete: list[float] = []
    for i in range(n):
        name = f"qbench-{i}"
        start = time.perf_counter()
        # runc, as Quilt uses (crun refuses this host's hybrid cgroups); conmon runs with
        # lower rlimits than podman's defaults, so the container asks for modest ones.
        done = sh(
            "podman",
            "run",
            "-d",
            "--name",
            name,
            "--runtime",
            "runc",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            "--network",
            "none",
            "--rootfs",
            str(rootfs),
            "/bin/sleep",
            "3600",
            check=False,
        )
        if done.returncode != 0:
            return [("podman", "run -d (failed on this host)", [0.0])]
        sh("podman", "exec", name, "/bin/true")
        create.append((time.perf_counter() - start) * 1000)
        exec_ms.append(timed(lambda nm=name: sh("podman", "exec", nm, "/bin/true")))
        delete.append(timed(lambda nm=name: sh("podman", "rm", "-f", "-t", "0", nm)))
    return [
        ("podman", "run -d + first exec", create),
        ("podman", "exec `true`", exec_ms),
        ("podman", "rm -f", delete),
    ]


PAIRS: list[tuple[tuple[str, str], tuple[str, str]]] = [
    (("quilt", "create → exec_ready (warm pool)"), ("podman", "run -d + first exec")),
    (("quilt", "create → exec_ready (cold)"), ("podman", "run -d + first exec")),
    (("quilt", "create → exec_ready (cold)"), ("runc", "run -d + first exec")),
    (("quilt", LEAN), ("runc", "exec `true`")),
    (("quilt", HTTPX), ("runc", "exec `true`")),
    (("quilt", LEAN), ("crun", "exec `true`")),
    (("quilt", LEAN), ("podman", "exec `true`")),
]


def main() -> None:
    """Run every measurement and write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=100, help="runs per measurement")
    parser.add_argument(
        "--only",
        choices=["exec"],
        help="measure only this beside its runc baseline; print it, write no report",
    )
    args = parser.parse_args()
    rootfs = busybox_rootfs()
    if args.only == "exec":
        with tempfile.TemporaryDirectory(prefix="quilt-bench-") as tmp:
            rows = bench_exec(Path(tmp), rootfs, args.n)
        print(table(rows))
        print("\n".join(ratios(rows, PAIRS)))
        return
    with tempfile.TemporaryDirectory(prefix="quilt-bench-") as tmp:
        work = Path(tmp)
        rows, extra = bench_quilt(work, args.n)
        rows += bench_runtime("runc", rootfs, work, args.n)
        rows += bench_crun(rootfs, work, args.n)
        rows += bench_podman(rootfs, args.n)
    notes = ratios(rows, PAIRS)
    if "host_rss_per_container_kib" in extra:
        kib = extra["host_rss_per_container_kib"]
        notes.append(
            f"- host memory per idle running container, outside the container: {kib:.0f} KiB"
        )
    write_section(
        "Containers and exec",
        f"Measured by `bench/core.py -n {args.n}`, all systems on the same busybox root filesystem.",
        rows,
        notes,
    )


if __name__ == "__main__":
    main()
