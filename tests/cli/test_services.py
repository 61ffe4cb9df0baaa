"""`quilt services` and `quilt network`: a published port answers at the printed URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from cli.conftest import shown, unique

if TYPE_CHECKING:
    from cli.conftest import Cli

pytestmark = [pytest.mark.anyio, pytest.mark.host]

SERVE = "mkdir -p /www && echo published > /www/index.html && httpd -p 7001 -h /www"


async def test_a_published_port_serves_at_the_printed_url(cli: Cli) -> None:
    """`services create` prints a signed URL that reaches the app, with no API key."""
    box = unique("web")
    await cli.ok(
        "containers", "create", box, "--image", "busybox", "--", "/bin/sh", "-c", SERVE + " -f"
    )
    url = (await cli.ok("services", "create", box, "7001", "--name", "site")).strip()
    assert "/linx/" in url
    assert "linx_token=" in url
    async with httpx.AsyncClient() as anonymous:
        for _ in range(50):
            answer = await anonymous.get(url)
            if answer.status_code == 200:
                break
        assert (answer.status_code, answer.text) == (200, "published\n")

    listed = await cli.ok("services", "ls", box)
    service_id = next(word for word in listed.split() if word.startswith("lnx_"))
    assert shown(await cli.ok("services", "get", service_id))["name"] == "site"
    await cli.ok("services", "rm", service_id)
    async with httpx.AsyncClient() as anonymous:
        assert (await anonymous.get(url)).status_code == 404
    await cli.ok("containers", "rm", box)


async def test_network_commands_read_the_real_namespace(cli: Cli) -> None:
    """get, diagnostics, routes, dns and allocations show what the container's namespace holds."""
    box = unique("net")
    made = shown(await cli.ok("containers", "create", box, "--image", "busybox"))
    address = made["ip_address"].strip()
    network = shown(await cli.ok("network", "get", box))
    assert (network["ip_address"].strip(), network["dns_name"].strip()) == (address, box)
    assert (await cli.ok("network", "diagnostics", box)).splitlines()[0] == "ok"
    assert "10.99.0.0/16" in await cli.ok("network", "routes", "add", box, "10.99.0.0/16")
    assert "10.99.0.0/16" in await cli.ok("exec", box, "--", "ip", "route")
    await cli.ok("network", "routes", "rm", box, "10.99.0.0/16")
    dns = await cli.ok("network", "dns")
    assert any(line.split()[:2] == [box, address] for line in dns.splitlines())
    assert address in await cli.ok("network", "allocations")
    await cli.ok("containers", "rm", box)
