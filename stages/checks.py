"""Checks of what a caller gives: attrs validators for options, and the site URL check (pure, before any request)."""

from __future__ import annotations

import functools
import ipaddress
import math
import re
import urllib.parse
from typing import Any

import attrs

from .errors import InvalidUrlError
from .redact import redact_url

_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def seconds(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValueError(f"{attribute.name} must be a finite number of seconds > 0, not {value!r}")


def count(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be a whole number >= 1, not {value!r}")


def text(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{attribute.name} must be a string, not {type(value).__name__}")


def seconds_or_none(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        seconds(instance, attribute, value)


_QUERY = re.compile(r"[?#]")


def site_url(url: object, name: str = "url") -> str:
    """``url`` when it is an http(s) URL with a host (and a valid port); else :class:`InvalidUrlError` naming it.

    Pure and cheap: it runs before any request, so that a typo fails at once with one clear line instead of
    a curl error after a connect timeout (or four).  Only the part before the query decides the scheme, host
    and port, and a request URL's query changes per message: that part's verdict is memoised.
    """
    if type(url) is str:
        cut = _QUERY.search(url)
        head = url if cut is None else url[: cut.start()]
        if _good_head(head) and (cut is None or not _FORBIDDEN.search(url, cut.start())):
            return url
    _check_url(url, name)  # raises, naming what is wrong
    return str(url)


@functools.lru_cache(maxsize=512)
def _good_head(head: str) -> bool:
    try:
        _check_url(head, "url")
    except InvalidUrlError:
        return False
    return True


def _check_url(url: object, name: str) -> None:
    if not isinstance(url, str):
        raise InvalidUrlError(f"{name} must be a string, not {type(url).__name__}")
    shown = repr(redact_url(url) or url)
    if not url.strip():
        raise InvalidUrlError(f"{name} is empty: give the address of the page with the chat, e.g. https://example.com/")
    if _FORBIDDEN.search(url):
        raise InvalidUrlError(f"{name} {shown} contains a space or a control character")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InvalidUrlError(f"{name} {shown} is not a valid URL ({error})") from None
    if parts.scheme.lower() not in ("http", "https"):
        what = f"the scheme {parts.scheme!r}" if parts.scheme else f"no scheme (did you mean 'https://{url}'?)"
        raise InvalidUrlError(f"{name} {shown} has {what}; only http:// and https:// work")
    host = parts.hostname or ""
    if not host:
        raise InvalidUrlError(f"{name} {shown} has no host")
    if port == 0:
        raise InvalidUrlError(f"{name} {shown} has port 0; a port is 1-65535")
    problem = host_problem(host)
    if problem:
        raise InvalidUrlError(f"{name} {shown}: {problem}")


def host_problem(host: str) -> str:
    """Why ``host`` (a name or an IP address, IPv6 without brackets) cannot be connected to; "" when it can."""
    if ":" in host:
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return f"{host!r} is not a valid IPv6 address"
        return ""
    labels = host.rstrip(".").split(".")
    if all(label.isdigit() for label in labels):
        try:
            ipaddress.IPv4Address(host.rstrip("."))
        except ValueError:
            return f"{host!r} is not a valid IPv4 address"
        return ""
    if len(host) > 253 or any(not label or len(label) > 63 for label in labels):
        return f"{host!r} is not a valid host name (empty or too long label)"
    if not all(_LABEL.fullmatch(label) or not label.isascii() for label in labels):
        return f"{host!r} is not a valid host name (letters, digits, '-' and '_' only)"
    return ""


def url_field(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator: an http(s) URL (None allowed, for optional URLs)."""
    if value is not None:
        site_url(value, attribute.name)
