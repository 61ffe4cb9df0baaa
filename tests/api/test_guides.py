"""Concern guides and system info: generated from the live routes, real health, Markdown."""

from __future__ import annotations

from typing import Any

import pytest

from quilt.api import guides

pytestmark = [pytest.mark.anyio, pytest.mark.host]


@pytest.mark.parametrize("concern", sorted(guides.CONCERNS))
async def test_help_lists_every_route_of_the_concern(api: Any, concern: str) -> None:
    """Help names every registered route of the concern, so it cannot drift from the server."""
    body = (await api.client.get(f"/api/{concern}/help")).json()
    listed = {(r["method"], r["path"]) for r in body["routes"]}
    registered = {
        (method.upper(), path)
        for path, operations in api.app.openapi()["paths"].items()
        for method, operation in operations.items()
        if concern in operation.get("tags", [])
    }
    assert registered
    assert listed == registered


@pytest.mark.parametrize("concern", sorted(guides.CONCERNS))
async def test_guides_speak_markdown_on_request(api: Any, concern: str) -> None:
    """?format=markdown and Accept: text/markdown both give each page's readable Markdown."""
    titles = {
        "help": f"# {concern}\n",
        "examples": f"# {concern} examples\n",
        "health": f"# {concern} health: ",
    }
    for kwargs in ({"params": {"format": "markdown"}}, {"headers": {"Accept": "text/markdown"}}):
        for page, title in titles.items():
            response = await api.client.get(f"/api/{concern}/{page}", **kwargs)
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/markdown")
            assert response.text.startswith(title)
        routes = (await api.client.get(f"/api/{concern}/help")).json()["routes"]
        text = (await api.client.get(f"/api/{concern}/help", **kwargs)).text
        for route in routes:
            assert f"### {route['method']} {route['path']} → {route['status']}\n" in text


async def test_examples_match_the_routes_models(api: Any) -> None:
    """Every example body validates against the model of the route it names."""
    routes = {(m, r.path_format): r for r in guides.api_routes(api.app) for m in r.methods}
    for concern, examples in guides.EXAMPLES.items():
        for example in examples:
            route = routes[(example["method"], example["path"].split("?")[0])]
            assert concern in route.tags
            if example["body"] is not None:
                guides.body_model(route).model_validate(example["body"])


async def test_containers_health_reports_real_components(api: Any) -> None:
    """Container health probes the runtime, minit, images, storage, bridge and database."""
    body = (await api.client.get("/api/containers/health")).json()
    names = {c["name"]: c for c in body["components"]}
    assert {"runtime", "minit", "image:busybox", "storage", "bridge", "database"} <= set(names)
    assert names["runtime"]["ok"] is True
    assert "runc" in names["runtime"]["detail"]
    assert names["bridge"]["ok"] is True
    assert body["runtime"] == "runc"


async def test_system_info_describes_the_server(api: Any) -> None:
    """System info names the version, runtime, storage backend and the caller's tenant."""
    body = (await api.client.get("/api/system/info")).json()
    assert body["tenant_id"] == "ten_test"
    assert body["runtime"] == "runc"
    assert body["storage_backend"] in {"btrfs", "directory"}
    assert body["network"]["subnet"] == api.settings.subnet


@pytest.mark.parametrize("concern", ["snapshots", "forks"])
async def test_saved_state_guides_state_the_tenant_rule(api: Any, concern: str) -> None:
    """Snapshot and fork help states the X-Tenant-Id rule; health names storage and freezer."""
    rules = (await api.client.get(f"/api/{concern}/help")).json()["rules"]
    assert any("X-Tenant-Id" in rule for rule in rules)
    health = (await api.client.get(f"/api/{concern}/health")).json()
    assert health["status"] == "ok"
    names = {c["name"]: c for c in health["components"]}
    assert names["storage"]["detail"].startswith("btrfs")
    assert names["freezer"]["ok"] is True
