"""The endpoint policy: where a page may send the visitor's message (pure).

A page is hostile input, and the endpoint it names (``ajax_url`` / data-config
``ajaxUrl``) receives the message, the nonce and the site's session cookie.
So, as a browser would:

* only ``http`` and ``https`` (no ``file:``, ``dict:``, ``ftp:``, ``javascript:``, ``data:``…);
* never from an ``https`` page to an ``http`` endpoint (mixed content);
* only to the page's own site: the same scheme and port, and a host equal to the
  page's once a leading ``www.`` is dropped from both (``www.example.com`` and
  ``example.com`` are one site; ``api.example.com`` is not) — unless the caller
  allows that host by name (``allow_endpoint_hosts`` / ``--allow-endpoint-host``);
* a redirect of a message request is followed only within the same origin.

Relative endpoints are resolved against the page's final URL, after its redirects.
An endpoint the caller chose itself (``--endpoint``, ``api_endpoint``) is only
checked for its scheme.  :func:`decide_endpoint` returns its reasons, so the
trace shows why an endpoint was taken or refused.
"""

from __future__ import annotations

import functools
import urllib.parse

import attrs

from .checks import site_url
from .errors import EndpointRefusedError, InvalidUrlError
from .redact import redact_url

SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
DEFAULT_ENDPOINT = "/wp-admin/admin-ajax.php"
#: how much of a refused URL an error repeats
SHOWN_CHARS = 200


@attrs.frozen
class EndpointDecision:
    """What the policy decided for one endpoint, and why (kept in the trace)."""

    #: the endpoint as resolved against the page (what would be requested)
    endpoint: str
    #: the endpoint as the page (or the caller) gave it; None = the WordPress default
    given: str | None
    allowed: bool
    #: ``same_origin``, ``same_site``, ``allowed_host``, ``caller_endpoint``; or when refused:
    #: ``scheme``, ``bad_url``, ``mixed_content``, ``other_site``
    rule: str
    reason: str


def shown(url: str) -> str:
    """A URL as an error may show it: credentials masked, length bounded."""
    text = redact_url(url) or ""
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as an http(s) URL to request (:func:`stages.checks.site_url`'s words), or None."""
    try:
        site_url(url, "the URL")
    except InvalidUrlError as error:
        return str(error)
    return None


def check_url(url: str, what: str = "the site URL") -> str:
    """``url`` if it is an http(s) URL with a host and a valid port; else :class:`InvalidUrlError` naming it."""
    return site_url(url, what)


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, lowercased, with the scheme's default port filled in."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme, 0)


def site_host(host: str) -> str:
    """The host that names a site: lowercase, without one leading ``www.``."""
    host = host.lower().rstrip(".")
    return host.removeprefix("www.")


def same_origin(a: str, b: str) -> bool:
    return url_problem(a) is None and url_problem(b) is None and origin(a) == origin(b)


def same_site(a: str, b: str) -> bool:
    """Same scheme and port, hosts equal once a leading ``www.`` is dropped."""
    (scheme_a, host_a, port_a), (scheme_b, host_b, port_b) = origin(a), origin(b)
    return scheme_a == scheme_b and port_a == port_b and site_host(host_a) == site_host(host_b)


@functools.lru_cache(maxsize=256)
def decide_endpoint(page_url: str, given: str | None, *, explicit: bool = False,
                    allowed_hosts: tuple[str, ...] = ()) -> EndpointDecision:
    """Stage: the endpoint a message goes to, from the page's final URL and what the page named.

    Pure, and its decision is immutable: the decisions for the few sites a client talks to are kept
    (every message of a site asks the same question; the trace still records each one).
    """
    endpoint = urllib.parse.urljoin(page_url, given if given is not None else DEFAULT_ENDPOINT).strip()

    def refused(rule: str, reason: str) -> EndpointDecision:
        return EndpointDecision(endpoint, given, False, rule, reason)

    def allowed(rule: str, reason: str) -> EndpointDecision:
        return EndpointDecision(endpoint, given, True, rule, reason)

    problem = url_problem(endpoint)
    if problem is not None:
        scheme = urllib.parse.urlsplit(endpoint).scheme.lower()
        return refused("scheme" if scheme not in SCHEMES else "bad_url", problem)
    if explicit:
        return allowed("caller_endpoint", "the caller chose this endpoint")
    page_scheme, _, _ = origin(page_url)
    scheme, host, _ = origin(endpoint)
    if page_scheme == "https" and scheme == "http":
        return refused("mixed_content", "an https page never sends its chat over plain http")
    if url_problem(page_url) is None and origin(page_url) == origin(endpoint):
        return allowed("same_origin", "the page's own origin")
    if url_problem(page_url) is None and same_site(page_url, endpoint):
        return allowed("same_site", "the page's own site (hosts equal but for a leading www.)")
    if site_host(host) in {site_host(h) for h in allowed_hosts}:
        return allowed("allowed_host", "the caller allowed this host (allow_endpoint_hosts)")
    return refused("other_site", "the endpoint is on another site than the page "
                   "(allow its host with allow_endpoint_hosts / --allow-endpoint-host)")


def checked_endpoint(decision: EndpointDecision) -> str:
    """The decision's endpoint, or :class:`EndpointRefusedError` naming what the page gave and the rule."""
    if not decision.allowed:
        raise EndpointRefusedError(shown(decision.given if decision.given is not None else decision.endpoint),
                                   decision.rule, decision.reason)
    return decision.endpoint


def redirect_decision(current: str, location: str) -> EndpointDecision:
    """A redirect of a message request: followed only within the same origin."""
    target = urllib.parse.urljoin(current, location)
    if same_origin(current, target):
        return EndpointDecision(target, location, True, "same_origin", "a redirect within the endpoint's origin")
    return EndpointDecision(target, location, False, "redirect_other_origin",
                            "a message request is never redirected to another origin")
