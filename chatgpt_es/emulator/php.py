"""Small PHP built-ins whose exact output the real site shows on the wire."""

from __future__ import annotations

import json
import random
import re

_PHP_TRIM_CHARS = " \t\n\r\0\x0b"
_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^\s;]+))', re.I)
_DISPOSITION = re.compile(rb'^content-disposition:[^\r\n]*?\bname="([^"]*)"([^\r\n]*)', re.I | re.M)
_INT_PREFIX = re.compile(r"[ \t\n\r\v\f]*([+-]?\d+)")


def json_encode(value: object, *, unescaped_unicode: bool = False) -> str:
    """PHP ``json_encode``: compact, ``/`` escaped as ``\\/``; non-ASCII as ``\\uXXXX`` unless
    ``JSON_UNESCAPED_UNICODE`` (then U+2028/U+2029 stay escaped, as PHP >= 7.1 does)."""
    text = json.dumps(value, ensure_ascii=not unescaped_unicode, separators=(",", ":"))
    # "/" can only occur inside JSON strings, so a blanket replace is safe.
    text = text.replace("/", "\\/")
    if unescaped_unicode:
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text


def trim(text: str) -> str:
    """PHP ``trim``: only ASCII blanks, so e.g. U+2028 survives."""
    return text.strip(_PHP_TRIM_CHARS)


def intval(text: str | None) -> int:
    """PHP ``intval``/``absint`` parsing of a request string: leading digits count, the rest is ignored."""
    if text is None:
        return 0
    match = _INT_PREFIX.match(text)
    return int(match.group(1)) if match else 0


def addslashes(text: str) -> str:
    """What WordPress' ``wp_magic_quotes`` does to every ``$_POST`` value before a plugin sees it."""
    return text.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"').replace("\0", "\\0")


def uniqid_more_entropy(now: float, rng: random.Random) -> str:
    """PHP ``uniqid('', true)``: 8 hex seconds, 5 hex microseconds, then ``lcg * 10`` with 8 decimals."""
    seconds = int(now)
    micros = round((now - seconds) * 1_000_000) % 1_000_000
    return f"{seconds:08x}{micros:05x}{rng.random() * 10:.8f}"


def form_data(body: bytes, content_type: str) -> dict[str, str] | None:
    """PHP's ``$_POST`` from a ``multipart/form-data`` body (file parts go to ``$_FILES``: left out here).

    None when the body is not one PHP could read (no boundary); a part that is not UTF-8 is left out.
    The emulator's own parser: aiohttp's spends most of a request in ``re.escape`` for every part's
    ``Content-Disposition``, which made the local site, not the client, the limit of the benchmark.
    """
    match = _BOUNDARY.search(content_type)
    if match is None:
        return None
    delimiter = b"--" + (match.group(1) or match.group(2)).encode("latin-1")
    form: dict[str, str] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, blank, value = part.partition(b"\r\n\r\n")
        disposition = _DISPOSITION.search(head)
        if not blank or disposition is None or b"filename=" in disposition.group(2):
            continue
        value = value[:-2] if value.endswith(b"\r\n") else value
        try:
            form[disposition.group(1).decode()] = value.decode()
        except UnicodeDecodeError:
            continue
    return form
