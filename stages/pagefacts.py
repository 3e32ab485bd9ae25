"""What a page without a chat box held instead, and what to try (pure).

When extraction falls back to the seed's default values the message will most
likely be refused; the person then needs to know what the page was — a login
wall, a Cloudflare check, another plugin's page, not WordPress at all — to
pick the right page or setting.  Every test below is a bounded substring
search over the page's first :data:`SCAN_CHARS` characters.
"""

from __future__ import annotations

import html
import re

import attrs

from .errors import (
    AnswerFormatError,
    BadStatusError,
    CloudflareChallengeError,
    NoChatBoxError,
    NonceRejectedError,
    RateLimitedError,
    ResponseError,
    ServerError,
)
from .models import ChatBox, Page
from .redact import redact_url

SCAN_CHARS = 400_000
_TITLE = re.compile(r"<title[^>]{0,200}>([^<]{0,300})</title", re.I)

LOGIN_HINTS = ("wp-login.php", 'id="loginform"', "name=\"pwd\"", 'type="password"', "type='password'")
CLOUDFLARE_HINTS = ("cdn-cgi/challenge-platform", "_cf_chl_opt", "cf-browser-verification",
                    "Attention Required! | Cloudflare")
WORDPRESS_HINTS = ("/wp-content/", "/wp-includes/", "wp-json")


@attrs.frozen
class PageFacts:
    """``kind``: login, cloudflare, other_nonce, wordpress, not_wordpress, empty."""

    url: str
    kind: str
    #: what the page held, in a few words (with its title when it has one)
    held: str
    #: what to try
    advice: str


def page_title(text: str) -> str:
    match = _TITLE.search(text[:SCAN_CHARS])
    return " ".join(html.unescape(match.group(1)).split())[:120] if match else ""


def describe_page(page: Page, box: ChatBox) -> PageFacts:
    """What ``page`` (whose chat box extraction found nothing, or only fell back) held, and advice."""
    text = page.text[:SCAN_CHARS]
    title = page_title(text)
    titled = f" (title {title!r})" if title else ""
    lowered = text.lower()
    if not text.strip():
        return PageFacts(page.url, "empty", "an empty page", "Check the URL: the server answered nothing.")
    if any(hint.lower() in lowered for hint in CLOUDFLARE_HINTS):
        return PageFacts(page.url, "cloudflare", f"a Cloudflare check{titled}",
                         "Cloudflare shows a bot check: try another --impersonate profile, or a --proxy whose "
                         "address Cloudflare trusts.")
    if any(hint.lower() in lowered for hint in LOGIN_HINTS):
        return PageFacts(page.url, "login", f"a login form{titled}",
                         "The chat is behind a login wall, which this client cannot pass: use a page that "
                         "visitors can open without logging in.")
    if box.protocol == "unknown" and not box.nonce.is_default:
        return PageFacts(page.url, "other_nonce",
                         f"another plugin's nonce (rule {box.nonce.rule}), no AI Power chat box{titled}",
                         "That nonce belongs to another plugin and the site refuses it: point --url at the page "
                         "that shows the chat box (open the site in a browser and find the chat).")
    if box.protocol != "unknown":
        return PageFacts(page.url, "incomplete", f"an AI Power chat box without its {_missing(box)}{titled}",
                         "The chat box lacks values the site checks: the page may be cached or altered; "
                         "try the page again later, or another page with the chat.")
    if any(hint in lowered for hint in WORDPRESS_HINTS):
        return PageFacts(page.url, "wordpress", f"a WordPress page without the AI Power chat box{titled}",
                         "Is this the page that shows the chat? Open the site in a browser, find the chat, "
                         "and use that page's URL.")
    return PageFacts(page.url, "not_wordpress", f"a page that is not WordPress{titled}",
                     "Check the URL: this does not look like a WordPress site running AI Power.")


def _missing(box: ChatBox) -> str:
    missing = [name for name, value in (("nonce", box.nonce), ("post id", box.post_id)) if value.is_default]
    return " and ".join(missing) or "values"


def lacks_chat_box(box: ChatBox) -> bool:
    """The page showed no chat box whose nonce the site could accept: the seed's fallback is all there is."""
    return box.protocol == "unknown" or box.nonce.is_default


def fallback_refused(box: ChatBox, error: ResponseError) -> bool:
    """``error`` is the site refusing the seed's fallback values: WordPress's nonce check, an unknown action, a
    status or body that no chat plugin answers.  Not a passing failure (429, a transient 5xx, Cloudflare), and
    not the plugin's own answer (:class:`SiteRefusedError`, a started stream): the values passed then."""
    refusal = isinstance(error, NonceRejectedError | BadStatusError | AnswerFormatError)
    passing = isinstance(error, RateLimitedError | CloudflareChallengeError) or (
        isinstance(error, ServerError) and error.transient)
    # a REST message needs no chat box: its failures are the REST API's, whatever the page shows
    return box.protocol != "rest" and lacks_chat_box(box) and refusal and not passing


def no_chat_box_error(url: str, facts: PageFacts | None, refusal: ResponseError) -> NoChatBoxError:
    """The site refused the seed's fallback values because the page had no chat box: say what it had."""
    held = facts.held if facts else "no AI Power chat box"
    advice = facts.advice if facts else "Point --url at the page that shows the chat box."
    reason = type(refusal).__name__ + (f" (HTTP {refusal.status})" if refusal.status is not None else "")
    return NoChatBoxError(f"the page {redact_url(url)} has no AI Power chat box (it holds {held}); the site refused "
                          f"the seed's fallback values: {reason}. {advice}", status=refusal.status, page=url,
                          held=held, advice=advice)
