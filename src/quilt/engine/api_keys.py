"""API keys and tenants: seeding, minting, revoking, and resolving a credential to a tenant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from quilt.domain.ids import (
    API_KEY_PREFIX,
    DEFAULT_TENANT,
    TenantId,
    new_api_key_id,
    new_api_key_secret,
)
from quilt.domain.records import ApiKeyRecord, now
from quilt.errors import BadRequest, NotFound, Unauthorized
from quilt.store.store import hash_secret

if TYPE_CHECKING:
    from quilt.store.store import Store

PREFIX_SHOWN = len(API_KEY_PREFIX) + 4


@dataclass(frozen=True)
class Principal:
    """Who is calling."""

    tenant_id: TenantId
    key_id: str


def parse_key_list(text: str) -> list[tuple[str, TenantId]]:
    """Parse `QUILT_API_KEYS` (`key1:tenantA,key2:tenantB`)."""
    pairs: list[tuple[str, TenantId]] = []
    for entry in filter(None, (e.strip() for e in text.split(","))):
        key, sep, tenant = entry.rpartition(":")
        if not sep or not key or not tenant:
            raise BadRequest(f"QUILT_API_KEYS entry {entry!r} is not key:tenant")
        pairs.append((key, TenantId(tenant)))
    return pairs


class ApiKeys:
    """The api-keys concern, and authentication."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, Principal] = {}

    def mint(
        self, tenant_id: TenantId, name: str, secret: str | None = None
    ) -> tuple[ApiKeyRecord, str]:
        """Create a key (random unless given); the secret is returned once and stored hashed."""
        secret = secret or new_api_key_secret()
        record = ApiKeyRecord(
            key_id=new_api_key_id(),
            tenant_id=tenant_id,
            name=name,
            prefix=secret[:PREFIX_SHOWN],
            secret_hash=hash_secret(secret),
            created_at=now(),
        )
        self.store.api_keys.insert(record)
        return record, secret

    def seed(self, api_key: str | None, api_keys: str | None) -> str | None:
        """Store configured keys; with none configured and none stored, mint one and return it."""
        wanted: list[tuple[str, TenantId]] = []
        if api_key:
            wanted.append((api_key, DEFAULT_TENANT))
        if api_keys:
            wanted.extend(parse_key_list(api_keys))
        for secret, tenant in wanted:
            if self.store.api_keys.by_secret(secret) is None:
                self.mint(tenant, "configured", secret)
        if not wanted and self.store.api_keys.count() == 0:
            return self.mint(DEFAULT_TENANT, "dev")[1]
        return None

    def authenticate(self, secret: str | None) -> Principal:
        """The tenant a credential belongs to; a missing or unknown one is a 401."""
        if not secret:
            raise Unauthorized(
                "missing credential",
                hint="send X-Api-Key: <key> or Authorization: Bearer <key>",
            )
        digest = hash_secret(secret)
        cached = self._cache.get(digest)
        if cached is not None:
            return cached
        record = self.store.api_keys.by_secret(secret)
        if record is None:
            raise Unauthorized("invalid API key")
        self.store.api_keys.touch(record.key_id)
        principal = Principal(record.tenant_id, record.key_id)
        self._cache[digest] = principal
        return principal

    def list(self, tenant_id: TenantId) -> list[ApiKeyRecord]:
        """The tenant's live keys."""
        return self.store.api_keys.list(tenant_id)

    def revoke(self, tenant_id: TenantId, key_id: str) -> None:
        """Revoke one of the tenant's keys; it stops working at once."""
        if not self.store.api_keys.revoke(tenant_id, key_id):
            raise NotFound(f"API key {key_id} does not exist")
        self._cache = {d: p for d, p in self._cache.items() if p.key_id != key_id}
