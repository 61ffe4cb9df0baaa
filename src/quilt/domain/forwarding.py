"""What Linx changes in the messages it carries between a client and an app (pure).

The request line and headers the app receives, the credential a request presents and the
cookie that keeps it, and the response head the client gets back. No I/O: both the ASGI
route and the transport-level fast path frame their bytes with these.
"""

from __future__ import annotations

import http
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from quilt.domain import linx

if TYPE_CHECKING:
    from collections.abc import Iterable

PREFIX: Final = "/linx/"
# Hop-by-hop headers (RFC 9110 §7.6.1) stay on their hop; the others pass untouched.
HOP: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
Headers = list[tuple[bytes, bytes]]  # names in lower case, as ASGI has them


class Framing(StrEnum):
    """How a message's body is delimited on the hop it is written to."""

    NONE = "none"  # no body
    LENGTH = "length"  # Content-Length bytes, passed as they are
    CHUNKED = "chunked"  # re-chunked by the writer


def request_framing(headers: Headers) -> Framing:
    """How the client delimits its request body (and so how the app will see it delimited)."""
    chunked = False
    for key, value in headers:
        if key == b"content-length":
            return Framing.NONE if value.strip() in (b"", b"0") else Framing.LENGTH
        if key == b"transfer-encoding":
            chunked = True
    return Framing.CHUNKED if chunked else Framing.NONE


def token_from_cookies(headers: Headers, service_id: str) -> str | None:
    """The service's token from the request's cookies, if one is there."""
    name = linx.cookie_name(service_id)
    for key, value in headers:
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == name:
                    return v
    return None


def token_cookie(service_id: str, token: str, *, secure: bool) -> bytes:
    """The Set-Cookie value that hands a query token back, scoped to the service's path.

    So the app's relative links, assets and XHRs keep working without the token in the URL.
    """
    flag = "; Secure" if secure else ""
    return (
        f"{linx.cookie_name(service_id)}={token}; Path={PREFIX}{service_id}/; "
        f"HttpOnly; SameSite=Lax{flag}"
    ).encode()


def upstream_head(
    method: bytes,
    target: bytes,
    headers: Headers,
    *,
    service_id: str,
    client: str,
    scheme: str,
    framing: Framing,
) -> bytes:
    """The request line and headers the app receives.

    `target` is the path and query the app sees (prefix and token already taken out). The
    ingress's own cookie is a credential, not the app's, so it is dropped; hop-by-hop
    headers are replaced by this hop's framing.
    """
    lines = [method + b" " + target + b" HTTP/1.1"]
    host = b""
    cookie_prefix = (linx.cookie_name(service_id) + "=").encode()
    for key, value in headers:
        if key in HOP or (key == b"content-length" and framing is not Framing.LENGTH):
            continue
        shown = value
        if key == b"host":
            host = value
        elif key == b"cookie":
            kept = [c for c in value.split(b"; ") if not c.startswith(cookie_prefix)]
            if not kept:
                continue
            shown = b"; ".join(kept)
        lines.append(key + b": " + shown)
    lines.append(b"x-forwarded-for: " + client.encode())
    lines.append(b"x-forwarded-proto: " + scheme.encode())
    lines.append(b"x-forwarded-host: " + host)
    lines.append(b"x-forwarded-prefix: " + f"{PREFIX}{service_id}".encode())
    if framing is Framing.CHUNKED:
        lines.append(b"transfer-encoding: chunked")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def response_head(
    status: int,
    reason: bytes,
    headers: Iterable[tuple[bytes, bytes]],
    *,
    set_cookie: bytes | None,
    extra: Iterable[tuple[bytes, bytes]] = (),
) -> bytes:
    """The status line and headers the client gets: the app's, minus hop-by-hop ones.

    `headers` keep the app's spelling of names; `extra` carries this hop's framing.
    """
    if not reason:
        reason = _REASONS.get(status, b"")
    lines = [b"HTTP/1.1 %d %b" % (status, reason)]
    lines.extend(k + b": " + v for k, v in headers if k.lower() not in HOP)
    if set_cookie:
        lines.append(b"set-cookie: " + set_cookie)
    lines.extend(k + b": " + v for k, v in extra)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body."""
    return b"%x\r\n%b\r\n" % (len(data), data)


LAST_CHUNK: Final = b"0\r\n\r\n"
_REASONS: Final = {s.value: s.phrase.encode() for s in http.HTTPStatus}
