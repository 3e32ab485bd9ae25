"""Stage 5: send a request built by the payload stage (I/O).

Returns as soon as the answer's head is in: the body is handed to the parse
stage chunk by chunk, so a streamed answer reaches the caller as it arrives.
curl does not follow redirects here: a redirect of a message request is
followed only within the endpoint's origin (never re-POSTing the message,
the nonce and the cookie to another host), and a POST only on 307/308.
"""

from __future__ import annotations

import functools
import urllib.parse
from typing import TYPE_CHECKING

from .endpoint import checked_endpoint, redirect_decision
from .errors import TooManyRedirectsError
from .models import HttpRequest, Stamp, header
from .payload import encode_body, request_url
from .redact import redact_url, without_userinfo
from .transport import Answer, TransportOptions, open_answer

if TYPE_CHECKING:
    from .session import CurlSession


@functools.lru_cache(maxsize=256)
def site_origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL (never its credentials)."""
    parts = urllib.parse.urlsplit(without_userinfo(url))
    return f"{parts.scheme}://{parts.netloc}"


@functools.lru_cache(maxsize=256)
def _referer(site_url: str) -> str:
    return without_userinfo(site_url).rstrip("/") + "/"


def request_headers(request: HttpRequest, site_url: str, content_type: str | None) -> dict[str, str]:
    """The seed's headers (referer, origin, accept, content-type) plus the request's own.

    Referer and Origin come from the site's page URL, the same every message: their forms are kept.
    """
    headers = {"accept": "*/*", "referer": _referer(site_url)}
    if request.method == "POST":
        headers["origin"] = site_origin(site_url)
    if content_type:
        headers["content-type"] = content_type
    headers.update(dict(request.headers))
    return headers


REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: redirects a message request follows (within its origin)
MAX_REDIRECTS = 5


async def send_request(session: CurlSession, request: HttpRequest, site_url: str,
                       options: TransportOptions, stamp: Stamp) -> Answer:
    """Stage: make the request; the :class:`Answer` whose body is still to be read."""
    content_type: str | None = None
    body: bytes | None = None
    if request.method == "POST":
        content_type, body = encode_body(request, f"----WebKitFormBoundary{stamp.token}{stamp.now_ms:x}")
    url = request_url(request)
    headers = request_headers(request, site_url, content_type)
    for _ in range(MAX_REDIRECTS + 1):
        answer = await open_answer(session, request.method, url, options, headers=headers, content=body,
                                   follow_redirects=False)
        location = header(answer.head.headers, "location")
        if answer.head.status not in REDIRECTS or not location:
            return answer
        if request.method == "POST" and answer.head.status not in (307, 308):
            return answer  # a browser would turn the POST into a GET and lose the message: the parse stage says so
        await answer.aclose()
        url = checked_endpoint(redirect_decision(url, location))
    raise TooManyRedirectsError(f"{request.method} {redact_url(request_url(request))}: "
                                f"more than {MAX_REDIRECTS} redirects")
