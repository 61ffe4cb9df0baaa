"""Network and DNS shapes (quilt-api §3.8)."""

from __future__ import annotations

from pydantic import Field

from quilt.wire.common import Request


class Readdress(Request):
    """`PUT /api/containers/<id>/network` body."""

    ip_address: str = Field(description="a free address in the container subnet")


class RouteBody(Request):
    """`POST` and `DELETE /api/containers/<id>/routes` body."""

    destination: str = Field(description="an IPv4 network in CIDR form, e.g. 10.0.0.0/24")


class RenameEntry(Request):
    """`POST /api/dns/entries/<current_name>/rename` body."""

    new_name: str
