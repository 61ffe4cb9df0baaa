"""Client configuration: arguments first, then the environment, then defaults. No I/O."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import httpx

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_BASE_URL: Final = "http://127.0.0.1:8787"
DEFAULT_TIMEOUT: Final = 60.0
DEFAULT_MAX_RETRIES: Final = 2
# Read in this order; QUILT_URL is the CLI's name for the same thing.
BASE_URL_ENV: Final = ("QUILT_BASE_URL", "QUILT_URL")
API_KEY_ENV: Final = "QUILT_API_KEY"
TENANT_ENV: Final = "QUILT_TENANT_ID"


@dataclass(frozen=True, slots=True)
class Config:
    """What a client needs to reach one server as one tenant."""

    base_url: str
    api_key: str | None
    tenant_id: str | None
    timeout: httpx.Timeout
    max_retries: int
    headers: dict[str, str] = field(default_factory=dict)

    def default_headers(self, version: str) -> dict[str, str]:
        """Headers every request carries: the API key, the user agent, and the caller's own."""
        headers = {"User-Agent": f"quilt-python/{version}", "Accept": "application/json"}
        if self.api_key:
            headers["X-Api-Key"] = self.api_key
        headers.update(self.headers)
        return headers


def configure(
    *,
    base_url: str | None,
    api_key: str | None,
    tenant_id: str | None,
    timeout: float | httpx.Timeout | None,
    max_retries: int,
    headers: Mapping[str, str] | None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Resolve a configuration: arguments win over `QUILT_*` variables, which win over defaults."""
    environ = os.environ if env is None else env
    url = base_url or next((environ[n] for n in BASE_URL_ENV if environ.get(n)), DEFAULT_BASE_URL)
    if max_retries < 0:
        raise ValueError(f"max_retries must be 0 or more, not {max_retries}")
    return Config(
        base_url=url.rstrip("/"),
        api_key=api_key or environ.get(API_KEY_ENV) or None,
        tenant_id=tenant_id or environ.get(TENANT_ENV) or None,
        timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
        max_retries=max_retries,
        headers=dict(headers or {}),
    )
