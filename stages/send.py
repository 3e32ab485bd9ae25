"""Stage 5: send a request built by the payload stage (I/O).

Returns as soon as the answer's head is in: the body is handed to the parse
stage chunk by chunk, so a streamed answer reaches the caller as it arrives.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

from .models import HttpRequest, Stamp
from .payload import encode_body, request_url
from .redact import without_userinfo
from .transport import Answer, TransportOptions, open_answer

if TYPE_CHECKING:
    from curl_cffi.requests import AsyncSession, Response


def site_origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL (never its credentials)."""
    parts = urllib.parse.urlsplit(without_userinfo(url))
    return f"{parts.scheme}://{parts.netloc}"


def request_headers(request: HttpRequest, site_url: str, content_type: str | None) -> dict[str, str]:
    """The seed's headers (referer, origin, accept, content-type) plus the request's own."""
    headers = {"accept": "*/*", "referer": without_userinfo(site_url).rstrip("/") + "/"}
    if request.method == "POST":
        headers["origin"] = site_origin(site_url)
    if content_type:
        headers["content-type"] = content_type
    headers.update(dict(request.headers))
    return headers


async def send_request(session: AsyncSession[Response], request: HttpRequest, site_url: str,
                       options: TransportOptions, stamp: Stamp) -> Answer:
    """Stage: make the request; the :class:`Answer` whose body is still to be read."""
    content_type: str | None = None
    body: bytes | None = None
    if request.method == "POST":
        content_type, body = encode_body(request, f"----WebKitFormBoundary{stamp.token}{stamp.now_ms:x}")
    return await open_answer(session, request.method, request_url(request), options,
                             headers=request_headers(request, site_url, content_type), content=body)
