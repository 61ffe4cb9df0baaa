"""Ingress benchmark: the Linx proxy beside direct requests to the same app, in one run.

On one server and one `prod` container running two apps (a small asyncio HTTP server for
requests/s and downloads, and the test suite's echo app for WebSocket round trips):
- small GETs with wrk (1 thread, 16 connections, 5 s) straight to the container's
  address:port, then through `/linx/<id>/?linx_token=…`, then through socat (a C byte relay
  on loopback that parses nothing: a reference for what any user-space proxy reaches on the
  same cores): requests/s, p50 and p99 latency;
- a 100 MB download with curl, direct and through Linx, and the server's memory meanwhile;
- WebSocket echo round trips (32 bytes), direct and through Linx.

Usage: `.venv/bin/python bench/ingress.py [-n 500]`; needs wrk and curl, and socat for the
relay row, skipped when missing (scripts/bench installs them); writes its section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from core import quilt_server
from interactive import rss_mb
from report import Row, write_section
from websockets.sync.client import connect

if TYPE_CHECKING:
    import httpx

ROOT = Path(__file__).resolve().parent.parent
ECHO_APP = (ROOT / "tests" / "apps" / "echo_app.py").read_text()
DOWNLOAD = 100 * 1024 * 1024
FAST_APP = """
import asyncio, sys
SMALL = b"HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\nContent-Type: text/plain\\r\\n\\r\\nhello"
BLOCK = b"x" * (1 << 20)
async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            path = head.split(b" ", 2)[1]
            if path.startswith(b"/big/"):
                size = int(path.split(b"/")[2])
                writer.write(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % size)
                while size:
                    writer.write(BLOCK[: min(size, len(BLOCK))])
                    size -= min(size, len(BLOCK))
                    await writer.drain()
            else:
                writer.write(SMALL)
                await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(serve, "0.0.0.0", int(sys.argv[1]), backlog=512)
    await server.serve_forever()
asyncio.run(main())
"""


def wrk(url: str) -> tuple[float, float, float]:
    """Requests/s, p50 ms and p99 ms of small GETs (wrk: 1 thread, 16 connections, 5 s)."""
    shown = subprocess.run(
        ["wrk", "-t1", "-c16", "-d5s", "--latency", url], capture_output=True, text=True, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", shown).group(1))  # type: ignore[union-attr]

    def latency(q: str) -> float:
        value, unit = re.search(rf"\s{q}%\s+([\d.]+)(us|ms|s)", shown).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return rps, latency("50"), latency("99")


def relay(address: str, port: int) -> tuple[float, float, float] | None:
    """Small GETs via socat relaying loopback to address:port; None (with a note) if no socat."""
    if shutil.which("socat") is None:
        print("socat not found: skipping the byte relay row (scripts/bench installs it)")
        return None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    listen = f"TCP-LISTEN:{free},bind=127.0.0.1,reuseaddr,fork,backlog=512"
    proc = subprocess.Popen(
        ["socat", listen, f"TCP:{address}:{port}"], stdin=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"socat exited with {proc.returncode} before accepting")
            try:
                socket.create_connection(("127.0.0.1", free), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("socat never accepted") from None
                time.sleep(0.02)
        url = f"http://127.0.0.1:{free}/"
        wrk(url)  # warm up
        return wrk(url)
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)  # socat and the children it forked per connection
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                continue
        proc.wait()


def download(url: str) -> float:
    """MB/s of one 100 MB GET with curl (bytes discarded)."""
    shown = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    size, seconds = int(shown[0]), float(shown[1])
    assert size == DOWNLOAD, size
    return size / seconds / 1e6


def echo_round_trips(url: str, n: int) -> list[float]:
    """Milliseconds per 32-byte WebSocket echo."""
    found = []
    with connect(url) as ws:
        for _ in range(20):  # warm up
            ws.send("x" * 32)
            ws.recv()
        for _ in range(n):
            start = time.perf_counter()
            ws.send("x" * 32)
            ws.recv()
            found.append((time.perf_counter() - start) * 1000)
    return found


def publish(client: httpx.Client, cid: str, name: str, port: int) -> str:
    """Publish a port; return its signed URL once the service is ready."""
    made = client.post(f"/api/containers/{cid}/services", json={"name": name, "target_port": port})
    made.raise_for_status()
    sid = made.json()["service_id"]
    deadline = time.monotonic() + 30
    while True:
        body = client.get(f"/api/services/{sid}").json()
        if body["status"] == "ready":
            return str(body["public_url"])
        if time.monotonic() > deadline:
            raise SystemExit(f"service never became ready: {body}")
        time.sleep(0.1)


def bench(work: Path, n: int) -> tuple[list[Row], list[str]]:
    """Every measurement, on one server and one container."""
    with quilt_server(work, pool=0) as (client, pid):
        start = ["/bin/sh", "-c", 'python3 -c "$0" 7001 & python3 -c "$1" 7002 & wait']
        made = client.post(
            "/api/containers",
            json={"name": "web", "image": "prod", "command": [*start, FAST_APP, ECHO_APP]},
        )
        made.raise_for_status()
        cid, address = made.json()["container_id"], made.json()["ip_address"]
        fast, echo = publish(client, cid, "fast", 7001), publish(client, cid, "echo", 7002)
        base, token = fast.split("?", 1)
        direct = f"http://{address}:7001/"
        wrk(direct)  # warm both paths up
        wrk(fast)
        direct_rps, direct_p50, direct_p99 = wrk(direct)
        linx_rps, linx_p50, linx_p99 = wrk(fast)
        socat = relay(address, 7001)
        before = rss_mb(pid)
        peak = [before]
        sampling = threading.Event()
        sampling.set()

        def sample() -> None:
            while sampling.is_set():
                peak.append(rss_mb(pid))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        direct_mb = sorted(download(f"http://{address}:7001/big/{DOWNLOAD}") for _ in range(3))
        linx_mb = sorted(download(f"{base}big/{DOWNLOAD}?{token}") for _ in range(3))
        sampling.clear()
        sampler.join()
        ws_base = echo.replace("http://", "ws://")
        echo_direct = echo_round_trips(f"ws://{address}:7002/", n)
        echo_linx = echo_round_trips(ws_base, n)
        client.delete(f"/api/containers/{cid}")
    rows: list[Row] = [
        ("direct", "WebSocket echo, 32 bytes (container address:port)", echo_direct),
        ("quilt", "WebSocket echo, 32 bytes (through /linx)", echo_linx),
    ]
    relay_rows = [
        f"| through socat (plain C byte relay) | {rps:.0f} | {p50:.2f} | {p99:.2f} | — |"
        for rps, p50, p99 in ([socat] if socat else [])
    ]
    notes = [
        "| path | small GETs req/s | p50 ms | p99 ms | 100 MB download MB/s (median of 3) |",
        "| --- | --- | --- | --- | --- |",
        (
            f"| direct to the container | {direct_rps:.0f} | {direct_p50:.2f} "
            f"| {direct_p99:.2f} | {direct_mb[1]:.0f} |"
        ),
        (
            f"| through /linx (signed URL) | {linx_rps:.0f} | {linx_p50:.2f} | {linx_p99:.2f} "
            f"| {linx_mb[1]:.0f} |"
        ),
        *relay_rows,
        "",
        (
            f"- Linx serves {linx_rps / direct_rps:.0%} of the direct requests/s and adds "
            f"{linx_p50 - direct_p50:.2f} ms at p50 (wrk: 1 thread, 16 connections, 5 s, on "
            "the same two cores as the server and the app)."
        ),
        (
            f"- A plain C byte relay (socat, one process per connection) reaches "
            f"{socat[0] / direct_rps:.0%} of direct; Linx reaches {linx_rps / direct_rps:.0%}."
            if socat
            else "- socat was not installed: no byte relay reference this run."
        ),
        (
            f"- Server memory during the 100 MB downloads: {before:.0f} MB before, "
            f"{max(peak):.0f} MB at most."
        ),
    ]
    return rows, notes


def main() -> None:
    """Run the measurements and write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=500, help="WebSocket round trips")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="quilt-bench-") as tmp:
        rows, notes = bench(Path(tmp), args.n)
    write_section(
        "Ingress",
        f"Measured by `bench/ingress.py -n {args.n}` on a `prod` container,",
        rows,
        notes,
    )


if __name__ == "__main__":
    main()
