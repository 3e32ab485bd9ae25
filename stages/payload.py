"""Stage 4: build the request(s) of a message, and encode form bodies.

The protocol generation is chosen from the extracted chat box; a page with no
chat box at all gets the seed's protocol (with the seed's fallback values),
which is what the seed did on every page.
"""

from __future__ import annotations

import os
import re
import time
import urllib.parse

from .aipkit import AIPKIT
from .legacy import LEGACY
from .models import ChatBox, Conversation, HttpRequest, Prompt, Stamp
from .parse import ChatProtocol
from .rest import REST

PROTOCOLS: dict[str, ChatProtocol] = {"legacy": LEGACY, "aipkit": AIPKIT, "unknown": LEGACY, "rest": REST}
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
#: what ``urllib.parse.quote_plus`` leaves as it is (RFC 3986's unreserved characters)
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def protocol_for(box: ChatBox) -> ChatProtocol:
    return PROTOCOLS[box.protocol]


def build_payload(prompt: Prompt, box: ChatBox, conversation: Conversation, endpoint: str,
                  stamp: Stamp, site_url: str) -> HttpRequest:
    """Stage: the first request of a message, in the page's protocol generation."""
    return protocol_for(box).build_request(prompt, box, conversation, endpoint, stamp, site_url)


def encode_body(request: HttpRequest, boundary: str) -> tuple[str, bytes]:
    """(content-type, body bytes) of a request's form: urlencoded, or multipart like a browser's FormData."""
    if request.encoding == "json":
        return "application/json", request.json_body.encode()
    if request.encoding == "urlencoded":
        body = urlencode(request.form).encode()
        return "application/x-www-form-urlencoded; charset=UTF-8", body
    while any(boundary in value or boundary in key for key, value in request.form):
        boundary += "x"
    parts: list[bytes] = []
    for key, value in request.form:
        name = key.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode() + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


def urlencode(pairs: tuple[tuple[str, str], ...]) -> str:
    """``urllib.parse.urlencode(pairs)``, the same bytes, without quoting what needs none.

    Most fields of a message (nonces, ids, actions) are plain tokens; quoting them one character at a time
    was the largest single cost of building a request.
    """
    return "&".join(f"{_quoted(key)}={_quoted(value)}" for key, value in pairs)


def _quoted(text: str) -> str:
    return text if _UNRESERVED.fullmatch(text) else urllib.parse.quote_plus(text)


def request_url(request: HttpRequest) -> str:
    """The request's URL with its query string."""
    if not request.query:
        return request.url
    separator = "&" if urllib.parse.urlsplit(request.url).query else "?"
    return request.url + separator + urlencode(request.query)


# The two impure helpers: randomness and time for the pure builders above.

def new_conversation() -> Conversation:
    """Fresh visitor ids: the seed's ``os.urandom(5).hex()`` client id and AIPKit's v4 UUIDs (one urandom call)."""
    raw = os.urandom(37)
    return Conversation(client_id=raw[:5].hex(), session_id=_uuid4(raw[5:21]), conversation_uuid=_uuid4(raw[21:]))


def _uuid4(random16: bytes) -> str:
    """What ``str(uuid.uuid4())`` gives for these 16 random bytes (version 4, RFC 4122 variant)."""
    raw = bytearray(random16)
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


#: byte -> its base36 digit (``b % 36``), for :func:`new_stamp`
_BASE36_OF_BYTE = bytes(ord(_BASE36[b % 36]) for b in range(256))


def new_stamp() -> Stamp:
    token = os.urandom(5).translate(_BASE36_OF_BYTE).decode("ascii")
    return Stamp(now_ms=int(time.time() * 1000), token=token)
