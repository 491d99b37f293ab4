"""Who may talk to the playground: requests for this server, from its own page.

Every request (the page, static files, the API) must name an allowed host in its Host
header, so a DNS-rebinding page (evil.example resolving to 127.0.0.1) is refused. A
request that changes state, and every WebSocket handshake (the stream trains), must also
come from the playground's own origin when the browser says where it comes from
(``Origin``, ``Sec-Fetch-Site``); scripts and curl send neither and are allowed.
Refusals are one line of JSON with status 403 (a refused handshake: 403, no body).
"""

from __future__ import annotations

import json
import re
from typing import Iterable

from torchclf.errors import UserError

LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
READ_ONLY = ("GET", "HEAD")
STREAM = "WEBSOCKET"  # the method a WebSocket handshake is checked as
FROM_ITSELF = ("same-origin", "none")  # Sec-Fetch-Site of the page's own requests, typed URLs
_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::\d{1,5})?")
# headers every answer carries: no framing of the page (clickjacking), no type sniffing
_HEADERS = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff")]


def host_name(value: str) -> str | None:
    """The name in a Host header ("localhost:8000" -> "localhost"), None if malformed."""
    value = value.strip().lower()
    if ":" in value and not value.startswith("[") and value.count(":") > 1:
        value = f"[{value}]"  # a bare IPv6 address, as --host ::1 gives it
    match = _HOST.fullmatch(value)
    return match.group(1) if match else None


def allowed_hosts(extra: Iterable[str] = ()) -> frozenset[str]:
    """The local names plus ``extra`` (the bound address, --allow-host names), checked."""
    names = set(LOCAL_HOSTS)
    for value in extra:
        name = host_name(value)
        if name is None:
            raise UserError(f"{value!r} is not a host name or address: give a name such as "
                            "playground.example or an address such as 192.168.1.5")
        names.add(name)
    return frozenset(names)


class Guard:
    """ASGI middleware refusing foreign hosts and cross-origin changes."""

    def __init__(self, app, hosts: frozenset[str]) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        port = (scope.get("server") or ("", 0))[1]
        # a stream's handshake is a GET that starts training: it is checked as a change
        method = scope.get("method", "GET") if scope["type"] == "http" else STREAM
        problem = self.refusal(method, headers, port)
        if problem is not None and scope["type"] == "websocket":
            # closing before accepting: the server answers the handshake with 403
            return await send({"type": "websocket.close", "code": 1008,
                               "reason": problem.encode()[:120].decode("utf-8", "ignore")})
        if problem is not None:
            return await _refuse(problem, send)
        if scope["type"] == "websocket":
            return await self.app(scope, receive, send)

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *_HEADERS]}
            await send(message)
        await self.app(scope, receive, send_with_headers)

    def refusal(self, method: str, headers: dict[str, str], port: int) -> str | None:
        """Why this request is refused, or None."""
        host = headers.get("host", "")
        if host_name(host) not in self.hosts:
            return (f"this playground does not answer to host {host[:80]!r}: open it at "
                    f"http://localhost:{port}/, or start it with 'torchclf playground "
                    f"--allow-host NAME' to serve it under another name")
        if method in READ_ONLY:
            return None
        origin = headers.get("origin")
        if origin is not None and origin.lower() not in (f"http://{host}".lower(),
                                                         f"https://{host}".lower()):
            return (f"refused a change from another site ({origin[:80]}): only the "
                    f"playground's own page at http://{host}/ may change its sessions")
        site = headers.get("sec-fetch-site")
        if site is not None and site not in FROM_ITSELF:
            return (f"refused a change from a {site[:20]} page: only the playground's own "
                    f"page at http://{host}/ may change its sessions")
        return None


async def _refuse(message: str, send) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *_HEADERS]})
    await send({"type": "http.response.body", "body": body})
