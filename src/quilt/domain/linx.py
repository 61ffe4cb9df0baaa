"""Linx access tokens: HMAC-signed, expiring, bound to one published service (pure).

A token is `<service_id>.<expires unix seconds>.<signature>`, the signature being HMAC-SHA256
of the first two parts under the server's secret, in unpadded base64url. Nothing in it is
secret; forging one needs the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final
from urllib.parse import unquote_plus

from quilt.errors import Forbidden, Unauthorized

TOKEN_PARAM: Final = "linx_token"  # noqa: S105 - a parameter name, not a secret
COOKIE_PREFIX: Final = "linx_"


def _signature(secret: bytes, body: str) -> str:
    digest = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(secret: bytes, service_id: str, expires_at: int) -> str:
    """A token for `service_id`, valid until `expires_at` (unix seconds)."""
    body = f"{service_id}.{expires_at}"
    return f"{body}.{_signature(secret, body)}"


def verify(secret: bytes, token: str | None, service_id: str, now: float) -> int:
    """Check a token for `service_id` at time `now`, and return when it expires.

    Unauthorized if missing, else Forbidden if forged, for another service, or expired.
    """
    hint = "use the service's public_url"
    if not token:
        raise Unauthorized(f"this service needs a {TOKEN_PARAM} (use its public_url)", hint=hint)
    body, _, signature = token.rpartition(".")
    bound, _, expires = body.rpartition(".")
    if not hmac.compare_digest(_signature(secret, body), signature) or not expires.isdigit():
        raise Forbidden(f"the {TOKEN_PARAM} is not valid", hint=hint)
    if bound != service_id:
        raise Forbidden(f"the {TOKEN_PARAM} is for another service", hint=hint)
    if int(expires) <= now:
        raise Forbidden(f"the {TOKEN_PARAM} has expired", hint=hint)
    return int(expires)


def cookie_name(service_id: str) -> str:
    """The cookie that carries a service's token after the first request."""
    return COOKIE_PREFIX + service_id


def split_query(query: str) -> tuple[str | None, str]:
    """(the linx_token, the query without it, as the app should see it).

    The other parameters keep the client's own encoding: only the token is taken out.
    """
    if TOKEN_PARAM not in query:
        return None, query
    token, kept = None, []
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if unquote_plus(key) == TOKEN_PARAM:
            token = unquote_plus(value)
        else:
            kept.append(part)
    return token, "&".join(kept)
