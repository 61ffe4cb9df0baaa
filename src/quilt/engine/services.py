"""The services concern: container ports published through the Linx ingress (§3.10).

A service is persisted at once, `pending`, and probed at once in the background; probes then
move it between `ready` (the port accepts connections) and `target_unreachable`; `expired`
after its TTL and `error` are final.
The ingress reads services from an in-memory table kept in step with the database, so a
proxied request costs no query.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from quilt import logs
from quilt.domain import linx
from quilt.domain.activity import service_happening
from quilt.domain.ids import new_service_id
from quilt.domain.records import ServiceRecord, now
from quilt.domain.states import ContainerState
from quilt.engine.containers import conflict
from quilt.errors import BadRequest, Conflict, Forbidden, NotFound, ServiceUnavailable

if TYPE_CHECKING:
    from pathlib import Path

    from quilt.domain.ids import TenantId
    from quilt.domain.records import ContainerRecord
    from quilt.engine.activity import Activity
    from quilt.engine.containers import Containers
    from quilt.store.store import Store

log = logs.get(__name__)

PENDING, READY, UNREACHABLE, EXPIRED, ERROR = (
    "pending",
    "ready",
    "target_unreachable",
    "expired",
    "error",
)
FINAL = frozenset({EXPIRED, ERROR})
AUTH_MODES = ("service_token", "public")
PROBE_TIMEOUT = 0.5
VERIFIED_KEPT = 4096  # tokens remembered as verified (all forgotten when full)


@dataclass(frozen=True)
class Target:
    """Where the ingress sends a service's traffic, and on what terms."""

    service: ServiceRecord
    address: str | None  # the container's address; None if it has none
    running: bool


def load_secret(path: Path) -> bytes:
    """The server's signing key: 32 random bytes in `path`, made (mode 0600) on first use."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        return key


class Services:
    """Published services of every tenant, and the table the ingress reads."""

    def __init__(
        self,
        store: Store,
        containers: Containers,
        activity: Activity,
        secret: bytes,
        *,
        token_ttl_seconds: int,
    ) -> None:
        self.store = store
        self.containers = containers
        self.activity = activity
        self.secret = secret
        self.token_ttl_seconds = token_ttl_seconds
        self._table: dict[str, ServiceRecord] = {s.service_id: s for s in store.services.list(None)}
        # Each published container's (address, running), kept in step by the store watcher.
        self._hosts: dict[str, tuple[str | None, bool]] = {}
        self._verified: dict[tuple[str, str], float] = {}  # (service, token) -> expires at
        self._first_probes: set[asyncio.Task[None]] = set()
        store.containers.watchers.append(self._container_changed)

    # -- the contract --------------------------------------------------------------------

    def create(
        self,
        tenant_id: TenantId,
        container_id: str,
        *,
        name: str,
        target_port: int,
        protocol: str,
        enable_websockets: bool,
        auth_mode: str,
        ttl_secs: int | None,
    ) -> ServiceRecord:
        """Publish a port of a running, networked container (persisted at once, `pending`)."""
        record = self.containers.get(tenant_id, container_id)
        if not name or len(name) > 128:  # noqa: PLR2004
            raise BadRequest("name must be 1 to 128 characters", details={"received": name})
        if not 1 <= target_port <= 65535:  # noqa: PLR2004
            raise BadRequest(
                "target_port must be a TCP port (1-65535)", details={"received": target_port}
            )
        if protocol != "http":
            raise BadRequest(
                f"protocol {protocol!r} is not supported",
                details={"expected": ["http"], "received": protocol},
                hint="published services carry HTTP (and WebSocket upgrades) only",
            )
        if auth_mode not in AUTH_MODES:
            raise BadRequest(
                f"auth_mode {auth_mode!r} is not known",
                details={"expected": list(AUTH_MODES), "received": auth_mode},
            )
        if ttl_secs is not None and ttl_secs <= 0:
            raise BadRequest("ttl_secs must be positive", details={"received": ttl_secs})
        if record.state is not ContainerState.RUNNING:
            raise conflict(record, "publish a port of")
        if not record.ip_address:
            raise Conflict(
                f"container {record.container_id} has no network address",
                details={"state": record.state.value},
                hint="published services need container networking",
            )
        created = now()
        service = ServiceRecord(
            service_id=new_service_id(),
            tenant_id=record.tenant_id,
            container_id=record.container_id,
            name=name,
            target_port=target_port,
            protocol=protocol,
            enable_websockets=enable_websockets,
            auth_mode=auth_mode,
            status=PENDING,
            created_at=created,
            updated_at=created,
            ttl_secs=ttl_secs,
            expires_at=created + timedelta(seconds=ttl_secs) if ttl_secs else None,
        )
        self.store.services.insert(service)
        self._table[service.service_id] = service
        self._happened(service, "published", f"port {target_port}")
        probe = asyncio.get_running_loop().create_task(self.probe(service))
        self._first_probes.add(probe)  # polled clients see `ready` in ms, not at the next round
        probe.add_done_callback(self._first_probes.discard)
        return service

    def all(self) -> list[ServiceRecord]:
        """Every tenant's services (for health)."""
        return list(self._table.values())

    def get(self, tenant_id: TenantId, service_id: str) -> ServiceRecord:
        """One of the tenant's services (another tenant's is not found)."""
        service = self._table.get(service_id)
        if service is None or service.tenant_id != tenant_id:
            raise NotFound(f"service {service_id} does not exist")
        return service

    def list(self, tenant_id: TenantId, container_id: str) -> list[ServiceRecord]:
        """The container's services, oldest first."""
        record = self.containers.get(tenant_id, container_id)
        return sorted(
            (s for s in self._table.values() if s.container_id == record.container_id),
            key=lambda s: (s.created_at, s.service_id),
        )

    def delete(self, tenant_id: TenantId, service_id: str) -> str:
        """Unpublish a service: the ingress refuses it from now on."""
        service = self.get(tenant_id, service_id)
        self.store.services.delete(service.service_id)
        self._table.pop(service.service_id, None)
        self._happened(service, "deleted")
        return service.service_id

    def token(self, service: ServiceRecord) -> str:
        """A signed token for the service's URLs, valid until it expires (or the token TTL)."""
        until = (
            service.expires_at.timestamp()
            if service.expires_at
            else time.time() + self.token_ttl_seconds
        )
        return linx.sign(self.secret, service.service_id, int(until))

    # -- the ingress's view --------------------------------------------------------------

    def admit(self, service_id: str, token: str | None, *, websocket: bool) -> Target:
        """The target of a request to the ingress, if the service takes it; the error if not."""
        target = self.target(service_id)
        if target is None:
            raise NotFound(f"service {service_id} does not exist")
        service = target.service
        if service.auth_mode == "service_token":
            self._check_token(service_id, token)
        if service.status == EXPIRED:
            raise NotFound(f"service {service_id} has expired")
        if websocket and not service.enable_websockets:
            raise Forbidden("WebSockets are not enabled for this service")
        if not target.running or not target.address:
            raise ServiceUnavailable(
                f"container {service.container_id} is not running",
                hint=f"GET /api/services/{service_id} shows the service's state",
            )
        return target

    def _check_token(self, service_id: str, token: str | None) -> None:
        """Verify a token, remembering good ones until they expire (one HMAC per token).

        Only tokens that verified are kept, keyed with the service they were checked for; the
        expiry is compared on every use, and a deleted service is refused before this.
        """
        moment = time.time()
        expires = self._verified.get((service_id, token or ""))
        if expires is not None and expires > moment:
            return
        expires = linx.verify(self.secret, token, service_id, moment)
        if len(self._verified) >= VERIFIED_KEPT:
            self._verified.clear()
        self._verified[service_id, token or ""] = expires

    def target(self, service_id: str) -> Target | None:
        """What the ingress needs to route a request to a service; None if no such service."""
        service = self._table.get(service_id)
        if service is None:
            return None
        host = self._hosts.get(service.container_id)
        if host is None:
            record = self.store.containers.find(service.container_id)
            if record is None:
                return None
            host = self._hosts[service.container_id] = _host(record)
        return Target(service, *host)

    # -- upkeep --------------------------------------------------------------------------

    async def run_prober(self, interval: float) -> None:
        """Probe every live service's port, and expire those past their TTL, forever."""
        while True:
            await self.probe_all()
            await asyncio.sleep(interval)

    async def probe_all(self) -> None:
        """One round of probes."""
        for service in list(self._table.values()):
            await self.probe(service)

    async def probe(self, service: ServiceRecord) -> None:
        """Expire a service past its TTL, else mark it `ready` or `target_unreachable`."""
        if service.status in FINAL:
            return
        if service.expires_at and service.expires_at <= now():
            self._set(service, EXPIRED)
            return
        target = self.target(service.service_id)
        ok = bool(
            target
            and target.running
            and target.address
            and await port_open(target.address, service.target_port)
        )
        self._set(service, READY if ok else UNREACHABLE)

    def _set(self, service: ServiceRecord, status: str) -> None:
        current = self._table.get(service.service_id)
        if current is None or current.status == status or current.status in FINAL:
            return
        service = current
        self.store.services.update(service.service_id, status=status)
        self._table[service.service_id] = replace(service, status=status, updated_at=now())
        log.info("service.status", service_id=service.service_id, status=status)
        self._happened(service, status)

    def _happened(self, service: ServiceRecord, change: str, detail: str | None = None) -> None:
        self.activity.record(
            service.tenant_id,
            service_happening(service.service_id, service.name, change, detail),
        )

    def _container_changed(self, record: ContainerRecord, gone: bool) -> None:
        container_id = record.container_id
        if not gone:
            if container_id in self._hosts:
                self._hosts[container_id] = _host(record)
            return
        self._hosts.pop(container_id, None)
        for service_id in self.store.services.delete_of(container_id):
            service = self._table.pop(service_id, None)
            if service is not None:
                self._happened(service, "deleted", "its container was deleted")


def _host(record: ContainerRecord) -> tuple[str | None, bool]:
    return record.ip_address, record.state is ContainerState.RUNNING


async def port_open(address: str, port: int) -> bool:
    """Whether `address:port` accepts a TCP connection within the probe timeout."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), PROBE_TIMEOUT)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
