"""Stage 2: fetch the chat page (I/O) and check what came back (pure).

A Cloudflare challenge is recognised and reported as such, never parsed for
tokens: its page holds none, and falling back to default values would only
turn a clear error into a confusing nonce rejection.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .endpoint import check_url
from .errors import CloudflareChallengeError
from .models import AnswerHead, Page
from .parse import is_challenge, leftover_error, shared_error
from .transport import TransportOptions, open_answer

if TYPE_CHECKING:
    from .session import CurlSession

PAGE_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.I)


def decode_page(body: bytes, content_type: str) -> str:
    match = _CHARSET.search(content_type)
    encoding = match.group(1) if match else "utf-8"
    try:
        return body.decode(encoding, "replace")
    except (LookupError, UnicodeError):  # an unknown charset, or one that cannot replace (idna, punycode)
        return body.decode("utf-8", "replace")


def check_page(page: Page) -> Page:
    """The page if it is a page to read tokens from; else the typed error its status means."""
    head = AnswerHead(page.url, page.status, page.headers)
    body = page.text.encode("utf-8", "replace")
    if is_challenge(page.status, page.headers, page.text):
        raise CloudflareChallengeError("Cloudflare answered the page with a challenge", status=page.status, body=body)
    if page.status != 200:
        raise shared_error(head, body) or leftover_error(head, body)
    return page


async def fetch_page(session: CurlSession, url: str, options: TransportOptions) -> Page:
    """Stage: GET the chat page; the checked :class:`Page` (its ``url`` is the final one, after redirects)."""
    check_url(url)
    answer = await open_answer(session, "GET", url, options, headers={"accept": PAGE_ACCEPT},
                               limit=options.max_page_bytes)
    body = await answer.read(options.max_page_bytes)
    page = Page(url=answer.head.url, status=answer.head.status, headers=answer.head.headers,
                text=decode_page(body, answer.head.content_type))
    return check_page(page)
