"""Keep secrets (proxy credentials, cookies) out of logs, traces, errors and fixtures."""

from __future__ import annotations

import re
import urllib.parse

MASK = "***"
#: a URL's userinfo runs to the LAST ``@`` of its word: a password may hold ``/``, ``?``, ``#``, ``:`` or ``@``
#: (masking too much of a URL whose path has an ``@`` is the safe way to be wrong)
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>\S+)@")
SECRET_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization"})


def redact_url(url: str | None) -> str | None:
    """``http://user:pass@host`` → ``http://***@host``; URLs without credentials are unchanged."""
    if url is None:
        return None
    return _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", url)


def without_userinfo(url: str) -> str:
    """The URL with any ``user:password@`` removed: what a browser shows and sends as Origin or Referer."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with any URL credentials and each given secret (and its URL-quoted form) masked."""
    text = _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
            quoted = urllib.parse.quote(secret, safe="")
            if quoted != secret:
                text = text.replace(quoted, MASK)
    return text


def userinfo(url: str) -> tuple[str, str]:
    """(user, password) of a URL, read as curl reads a proxy: everything before the last ``@`` after the
    scheme, split at its first ``:``, whatever the password contains (``urlsplit`` stops at a ``/``)."""
    rest = url.partition("://")[2] if "://" in url else url
    info, at, _ = rest.rpartition("@")
    if not at:
        return "", ""
    user, _, password = info.partition(":")
    return user, password


def proxy_secrets(proxy: str | None) -> tuple[str, ...]:
    """The credentials inside a proxy (or site) URL, to mask wherever they might show up."""
    if not proxy:
        return ()
    user, password = userinfo(proxy)
    # a very short user name would mask ordinary words; the password is always masked
    found = tuple(s for s in (password, user if len(user) >= 4 else None) if s)
    variants = [urllib.parse.unquote(s) for s in found] + [urllib.parse.quote(s, safe="") for s in found]
    return tuple(dict.fromkeys(found + tuple(v for v in variants if v)))


def redact_headers(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    return tuple((k, MASK if k.lower() in SECRET_HEADERS else v) for k, v in headers)
