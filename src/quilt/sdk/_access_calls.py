"""The access concerns' routes as pure `Call` builders: network, services, terminals, events.

Same rules as `_calls`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Unpack

from quilt.sdk import _core as core
from quilt.sdk._access import (
    Allocations,
    ContainerNetwork,
    DnsEntry,
    Egress,
    NetworkDiagnostics,
    NetworkSetup,
    RouteChange,
    Service,
    TerminalSession,
)
from quilt.sdk._core import Call, StreamCall, container_path, segment
from quilt.sdk._models import Renamed, Success
from quilt.sdk._streams import ServerSentEvents

if TYPE_CHECKING:
    import builtins

    from quilt.sdk._account import Event
    from quilt.sdk._params import ServiceOptions, SessionOptions


class NetworkCalls:
    """`client.network`: addresses, routes, diagnostics and DNS names."""

    @staticmethod
    def get(container_id: str) -> Call[ContainerNetwork]:
        """`GET /api/containers/<id>/network`."""
        return Call("GET", container_path(container_id, "network"), core.one(ContainerNetwork))

    @staticmethod
    def readdress(container_id: str, ip_address: str) -> Call[ContainerNetwork]:
        """`PUT /api/containers/<id>/network`: move to another free address."""
        path = container_path(container_id, "network")
        body = {"ip_address": ip_address}
        return Call("PUT", path, core.one(ContainerNetwork), json=body)

    @staticmethod
    def setup(container_id: str) -> Call[NetworkSetup]:
        """`POST /api/containers/<id>/network/setup`."""
        path = container_path(container_id, "network", "setup")
        return Call("POST", path, core.one(NetworkSetup), json={})

    @staticmethod
    def diagnostics(container_id: str) -> Call[NetworkDiagnostics]:
        """`GET /api/containers/<id>/network/diagnostics`."""
        path = container_path(container_id, "network", "diagnostics")
        return Call("GET", path, core.one(NetworkDiagnostics))

    @staticmethod
    def egress(container_id: str) -> Call[Egress]:
        """`GET /api/containers/<id>/egress`."""
        return Call("GET", container_path(container_id, "egress"), core.one(Egress))

    @staticmethod
    def add_route(container_id: str, destination: str) -> Call[RouteChange]:
        """`POST /api/containers/<id>/routes`."""
        path = container_path(container_id, "routes")
        body = {"destination": destination}
        return Call("POST", path, core.one(RouteChange), json=body)

    @staticmethod
    def delete_route(container_id: str, destination: str) -> Call[RouteChange]:
        """`DELETE /api/containers/<id>/routes` (the destination goes in a JSON body)."""
        path = container_path(container_id, "routes")
        body = {"destination": destination}
        return Call("DELETE", path, core.one(RouteChange), json=body)

    @staticmethod
    def allocations() -> Call[Allocations]:
        """`GET /api/network/allocations`."""
        return Call("GET", "/api/network/allocations", core.one(Allocations))

    @staticmethod
    def dns_entries() -> Call[builtins.list[DnsEntry]]:
        """`GET /api/dns/entries`."""
        return Call("GET", "/api/dns/entries", core.many(DnsEntry, "entries"))

    @staticmethod
    def rename_dns_entry(current_name: str, new_name: str) -> Call[Renamed]:
        """`POST /api/dns/entries/<current_name>/rename`."""
        path = f"/api/dns/entries/{segment(current_name)}/rename"
        return Call("POST", path, core.one(Renamed), json={"new_name": new_name})


class ServiceCalls:
    """`client.services`: published container ports."""

    @staticmethod
    def create(
        container_id: str, name: str, target_port: int, **options: Unpack[ServiceOptions]
    ) -> Call[Service]:
        """`POST /api/containers/<id>/services` (201)."""
        body = {"name": name, "target_port": target_port, **options}
        return Call("POST", container_path(container_id, "services"), core.one(Service), json=body)

    @staticmethod
    def list(container_id: str) -> Call[builtins.list[Service]]:
        """`GET /api/containers/<id>/services`."""
        path = container_path(container_id, "services")
        return Call("GET", path, core.many(Service, "services"))

    @staticmethod
    def get(service_id: str) -> Call[Service]:
        """`GET /api/services/<id>`."""
        return Call("GET", f"/api/services/{segment(service_id)}", core.one(Service))

    @staticmethod
    def delete(service_id: str) -> Call[Success]:
        """`DELETE /api/services/<id>`."""
        return Call("DELETE", f"/api/services/{segment(service_id)}", core.one(Success))


SESSIONS: Final = "/api/terminal/sessions"


class TerminalCalls:
    """`client.terminals`: terminal sessions (attach over WebSocket at `attach_url`)."""

    @staticmethod
    def create(container_id: str, **options: Unpack[SessionOptions]) -> Call[TerminalSession]:
        """`POST /api/terminal/sessions` (201)."""
        body = {"container_id": container_id, **options}
        return Call("POST", SESSIONS, core.one(TerminalSession), json=body)

    @staticmethod
    def list(target: str | None = None) -> Call[builtins.list[TerminalSession]]:
        """`GET /api/terminal/sessions[?target=]`."""
        parse = core.many(TerminalSession, "sessions")
        return Call("GET", SESSIONS, parse, params={"target": target})

    @staticmethod
    def get(session_id: str) -> Call[TerminalSession]:
        """`GET /api/terminal/sessions/<id>`."""
        return Call("GET", f"{SESSIONS}/{segment(session_id)}", core.one(TerminalSession))

    @staticmethod
    def resize(session_id: str, cols: int, rows: int) -> Call[Success]:
        """`POST /api/terminal/sessions/<id>/resize`."""
        path = f"{SESSIONS}/{segment(session_id)}/resize"
        return Call("POST", path, core.one(Success), json={"cols": cols, "rows": rows})

    @staticmethod
    def delete(session_id: str) -> Call[Success]:
        """`DELETE /api/terminal/sessions/<id>`."""
        return Call("DELETE", f"{SESSIONS}/{segment(session_id)}", core.one(Success))


class EventCalls:
    """`client.events`."""

    @staticmethod
    def stream(
        *,
        container_id: str | None = None,
        operation_id: str | None = None,
        last_event_id: str | None = None,
    ) -> StreamCall[Event]:
        """`GET /api/events`: server-sent events, `ready` first."""
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        params = {"container_id": container_id, "operation_id": operation_id}
        call: Call[None] = Call(
            "GET", "/api/events", core.nothing, params=params, headers=headers, timeout=core.ENDLESS
        )
        return StreamCall(call, ServerSentEvents)
