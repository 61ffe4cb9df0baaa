"""API keys: mint (secret shown once, stored hashed), list, revoke; tenant-scoped."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.host]


async def test_minted_key_works_until_revoked(api: Any) -> None:
    """A minted key authenticates as the minting tenant and stops working once revoked."""
    minted = await api.client.post("/api/api-keys", json={"name": "ci"})
    assert minted.status_code == 201
    body = minted.json()
    assert body["key"].startswith("quilt_sk_")
    assert body["tenant_id"] == "ten_test"
    assert body["prefix"] == body["key"][: len(body["prefix"])]
    headers = {"X-Api-Key": body["key"]}
    info = await api.anonymous.get("/api/system/info", headers=headers)
    assert info.json()["tenant_id"] == "ten_test"
    listed = (await api.client.get("/api/api-keys")).json()["api_keys"]
    assert body["id"] in {k["id"] for k in listed}
    assert all("key" not in k and "secret_hash" not in k for k in listed)
    revoked = await api.client.delete(f"/api/api-keys/{body['id']}")
    assert revoked.status_code == 200
    after = await api.anonymous.get("/api/system/info", headers=headers)
    assert after.status_code == 401


async def test_secrets_are_stored_hashed(api: Any) -> None:
    """The database never holds a key's secret, only its hash."""
    minted = (await api.client.post("/api/api-keys", json={"name": "hashed"})).json()
    db = api.settings.sqlite_path.read_bytes()
    assert minted["key"].encode() not in db
    await api.client.delete(f"/api/api-keys/{minted['id']}")


async def test_keys_are_tenant_scoped(api: Any) -> None:
    """One tenant can neither list nor revoke another tenant's keys."""
    minted = (await api.client.post("/api/api-keys", json={"name": "mine"})).json()
    theirs = (await api.other.get("/api/api-keys")).json()["api_keys"]
    assert minted["id"] not in {k["id"] for k in theirs}
    refused = await api.other.delete(f"/api/api-keys/{minted['id']}")
    assert refused.status_code == 404
    await api.client.delete(f"/api/api-keys/{minted['id']}")
