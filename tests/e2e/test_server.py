"""A real `quilt serve` process over HTTP: first start, restart safety, graceful shutdown."""

from __future__ import annotations

import base64
import io
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
import pytest

from conftest import API_KEY, make_settings, purge

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from quilt.settings import Settings

pytestmark = pytest.mark.host


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    """A `quilt serve` child process with its settings."""

    started: ClassVar[list[Process]] = []

    def __init__(self, settings: Settings, *, with_keys: bool = True) -> None:
        Process.started.append(self)
        self.settings = settings
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **self.env(settings)}
        if not with_keys:
            env.pop("QUILT_API_KEYS", None)
        self.log = settings.data_dir.parent / f"server-{self.port}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "quilt.cli.main", "serve", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
        )
        self.client = httpx.Client(base_url=self.base, headers={"X-Api-Key": API_KEY}, timeout=30)
        self.wait_healthy()

    @staticmethod
    def env(settings: Settings) -> dict[str, str]:
        """The QUILT_* variables that reproduce `settings`."""
        keys = (
            "data_dir",
            "bridge",
            "subnet",
            "default_image",
            "warm_pool_images",
            "warm_pool_size",
            "api_keys",
            "minit_path",
            "pool_size_gb",
            "stop_grace_seconds",
        )
        return {f"QUILT_{k.upper()}": str(getattr(settings, k)) for k in keys}

    def wait_healthy(self, timeout: float = 30) -> None:
        """Wait until /health answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log_file.close()
                raise AssertionError(f"server exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server did not become healthy: {self.log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the server (by its pid) and wait for it to exit."""
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=60)
        self._log_file.close()
        return code


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    """Settings for a server process; everything it made is purged afterwards."""
    s = make_settings(tmp_path, warm_pool_size=1)
    yield s
    # A failed assertion may skip a test's own stop: no server outlives its test.
    while Process.started:
        proc = Process.started.pop()
        if proc.proc.poll() is None:
            proc.stop(signal.SIGKILL)
    purge(s)


def create(proc: Process, **body: Any) -> dict[str, Any]:
    """Create a busybox container."""
    response = proc.client.post("/api/containers", json={"image": "busybox", **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def exec_stdout(proc: Process, cid: str, *argv: str) -> str:
    """Exec and return stdout."""
    response = proc.client.post(f"/api/containers/{cid}/exec", json={"command": list(argv)})
    assert response.status_code == 200, response.text
    return str(response.json()["stdout"])


def test_first_start_prints_a_dev_key_once(settings: Settings) -> None:
    """With no key configured, the first start prints a working key; later starts do not."""
    first = Process(settings, with_keys=False)
    first.stop()
    text = first.log.read_text()
    key = next(w.split("=", 1)[1] for w in text.split() if w.startswith("QUILT_API_KEY=quilt_sk_"))
    second = Process(settings, with_keys=False)
    try:
        info = httpx.get(f"{second.base}/api/system/info", headers={"X-Api-Key": key})
        assert info.status_code == 200
        assert info.json()["tenant_id"] == "ten_default"
    finally:
        second.stop()
    assert "QUILT_API_KEY=" not in second.log.read_text()


def test_kill_9_loses_nothing(settings: Settings) -> None:
    """After kill -9 a restarted server re-adopts containers, records exits, fails cut-off work."""
    proc = Process(settings)
    alive = create(proc, name="survivor")
    exec_stdout(proc, alive["container_id"], "sh", "-c", "echo before > /mark")
    ender = create(proc, name="ender", command=["sh", "-c", "sleep 1; exit 4"])
    stopped = create(proc, name="to-start")
    proc.client.post(f"/api/containers/{stopped['container_id']}/stop")
    receipt = proc.client.post(f"/api/containers/{stopped['container_id']}/start").json()
    assert proc.stop(signal.SIGKILL) == -signal.SIGKILL
    time.sleep(1.5)  # the `ender` main command exits while no server is running

    again = Process(settings)
    try:
        assert exec_stdout(again, alive["container_id"], "cat", "/mark") == "before\n"
        body = again.client.get(f"/api/containers/{alive['container_id']}").json()
        assert body["state"] == "running"
        assert body["exec_ready"] is True
        ended = again.client.get(f"/api/containers/{ender['container_id']}").json()
        assert ended["state"] == "exited"
        assert ended["exit_code"] == 4
        op = again.client.get(receipt["status_url"]).json()
        assert op["status"] in {"succeeded", "failed"}
        if op["status"] == "failed":
            assert op["reason_code"] == "INTERRUPTED"
        # the server still serves every route after the restart
        assert again.client.delete(f"/api/containers/{ender['container_id']}").status_code == 200
    finally:
        again.stop()


def test_restart_cleans_host_orphans(settings: Settings) -> None:
    """Pool members and half-made containers left by a killed server are removed on restart."""
    proc = Process(settings)
    deadline = time.monotonic() + 30
    pool = proc.client.get("/api/containers/health").json()["warm_pool"]
    while pool.get("busybox", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
        pool = proc.client.get("/api/containers/health").json()["warm_pool"]
    assert pool["busybox"] == 1
    proc.stop(signal.SIGKILL)
    orphans_dir = settings.data_dir / "containers"
    orphaned = {p.name for p in orphans_dir.iterdir()}
    assert orphaned, "the pool member should be on the host"
    again = Process(settings)
    try:
        left = {p.name for p in orphans_dir.iterdir()}
        assert not (orphaned & left)
    finally:
        again.stop()


def test_sigterm_shuts_down_gracefully_and_keeps_containers(settings: Settings) -> None:
    """SIGTERM stops the server cleanly (exit 0); user containers keep running."""
    proc = Process(settings)
    body = create(proc, name="keeps-running")
    assert proc.stop(signal.SIGTERM) == 0
    again = Process(settings)
    try:
        assert exec_stdout(again, body["container_id"], "echo", "still here") == "still here\n"
    finally:
        again.stop()


def test_volumes_and_archives_over_http_survive_restart(settings: Settings) -> None:
    """A large streamed archive and a capped volume's data survive a restart; staged bodies go."""
    proc = Process(settings)
    assert proc.client.post("/api/volumes", json={"name": "kept", "size_limit_mb": 64}).is_success
    blob = os.urandom(3 << 20)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("proj/blob.bin")
        info.size = len(blob)
        archive.addfile(info, io.BytesIO(blob))

    def chunks() -> Iterator[bytes]:  # sent chunked, as `curl --data-binary @-` from a pipe
        data = buffer.getvalue()
        for start in range(0, len(data), 65536):
            yield data[start : start + 65536]

    receipt = proc.client.post(
        "/api/volumes/kept/archive",
        params={"path": "/src", "strip_components": 1},
        content=chunks(),
        headers={"Content-Type": "application/gzip"},
    )
    assert receipt.status_code == 202, receipt.text
    for _ in range(600):
        op = proc.client.get(receipt.json()["status_url"]).json()
        if op["status"] not in {"accepted", "queued", "running"}:
            break
        time.sleep(0.05)
    assert op["status"] == "succeeded", op
    assert proc.stop() == 0
    leftover = settings.data_dir / "uploads" / "orphan"
    leftover.write_bytes(b"from a server that died mid-upload")

    again = Process(settings)
    try:
        read = again.client.get("/api/volumes/kept/files/src/blob.bin")
        assert read.status_code == 200
        assert read.content == blob
        assert read.headers["x-quilt-file-size"] == str(len(blob))
        assert not leftover.exists()
        too_big = again.client.post(
            "/api/volumes/kept/files",
            json={"path": "/huge", "content": base64.b64encode(bytes(63 << 20)).decode()},
        )
        assert too_big.status_code == 413
        assert too_big.json()["error_code"] == "QUOTA_EXCEEDED"
    finally:
        again.stop()
