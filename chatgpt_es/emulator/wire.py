"""What handlers produce: protocol-level replies (status, headers, body or SSE events), not sockets.

Handlers return these value objects; :mod:`chatgpt_es.emulator.sender` puts them on the wire, which is
also where latency, chunk delays and the ``drop``/``truncate`` faults are applied uniformly.
"""

from __future__ import annotations

import attrs

from chatgpt_es.emulator.php import json_encode

Headers = tuple[tuple[str, str], ...]

_POWERED: Headers = (("Server", "nginx"), ("X-Powered-By", "PHP/8.2.36"))
_EXPIRES = ("Expires", "Wed, 11 Jan 1984 05:00:00 GMT")
_NOCACHE = ("Cache-Control", "no-cache, must-revalidate, max-age=0")
_ROBOTS = ("X-Robots-Tag", "noindex")
_NOSNIFF = ("X-Content-Type-Options", "nosniff")
_REFERRER = ("Referrer-Policy", "strict-origin-when-cross-origin")
_FRAME = ("X-Frame-Options", "SAMEORIGIN")
_HTML = ("Content-Type", "text/html; charset=UTF-8")

# Header sets in the order the captures show them (WordPress sends them from different places).
JSON_HEADERS: Headers = (
    *_POWERED, _ROBOTS, _NOSNIFF, _EXPIRES, _NOCACHE, _REFERRER, _FRAME,
    ("Content-Type", "application/json; charset=UTF-8"),
)
DIE_HEADERS: Headers = (*_POWERED, _HTML, _ROBOTS, _NOSNIFF, _REFERRER, _FRAME, _EXPIRES, _NOCACHE)
NO_ACTION_HEADERS: Headers = (*_POWERED, _HTML, _ROBOTS, _EXPIRES, _NOCACHE)
LEGACY_SSE_HEADERS: Headers = (
    *_POWERED, _ROBOTS, _NOSNIFF, _EXPIRES, _REFERRER, _FRAME,
    ("Content-type", "text/event-stream;charset=UTF-8"), ("Cache-Control", "no-cache"),
    ("X-Accel-Buffering", "no"),
)
AIPKIT_SSE_HEADERS: Headers = (
    *_POWERED, _ROBOTS, _NOSNIFF, _EXPIRES, _REFERRER, _FRAME,
    ("Cache-Control", "no-cache, no-store, must-revalidate, max-age=0, no-transform"),
    ("Pragma", "no-cache"), ("Content-Type", "text/event-stream; charset=utf-8"),
    ("X-Accel-Buffering", "no"), ("Connection", "keep-alive"),
)


@attrs.frozen
class AjaxRequest:
    """One request to admin-ajax.php as PHP sees it: ``$_GET``, ``$_POST`` and ``$_REQUEST`` (last wins)."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    referer: str | None = None
    origin: str | None = None

    @property
    def fields(self) -> dict[str, str]:
        return {**self.query, **self.form}


@attrs.frozen
class Reply:
    status: int
    headers: Headers
    body: bytes
    outcome: str


@attrs.frozen
class SseEvent:
    data: bytes
    content: bool = False  # carries answer text (the drop fault cuts after one or two of these)


@attrs.frozen
class SseReply:
    headers: Headers
    events: tuple[SseEvent, ...]
    outcome: str
    status: int = 200


AnyReply = Reply | SseReply


def json_reply(value: object, outcome: str, status: int = 200) -> Reply:
    """``wp_send_json``: PHP ``json_encode`` with default flags (``\\/`` and ``\\uXXXX``)."""
    return Reply(status, JSON_HEADERS, json_encode(value).encode(), outcome)


def die_zero(has_action: bool) -> Reply:
    """admin-ajax.php's ``wp_die('0', 400)`` for a missing or unregistered action."""
    headers = DIE_HEADERS if has_action else NO_ACTION_HEADERS
    return Reply(400, headers, b"0", "unknown_action")


def sse_event(data: str, event: str | None = None, event_id: str | None = None) -> bytes:
    head = (f"event: {event}\n" if event else "") + (f"id: {event_id}\n" if event_id else "")
    return f"{head}data: {data}\n\n".encode()


#: AIPKit's stream starts with a 4 KB comment (to defeat proxy buffering) and ends with ``done``
AIPKIT_PREAMBLE = SseEvent((":" + " " * 4096 + "\n\n").encode())
AIPKIT_DONE = SseEvent(sse_event('{"finished":true}', "done"))
