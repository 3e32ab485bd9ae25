"""WordPress core functions the plugin's request handling runs through, ported for byte-exact effects.

``sanitize_textarea_field`` is what mangles the legacy chat history (PROTOCOL.md §2); ``wp_get_referer``
and ``esc_url`` decide the "Please try again." link of the expired-nonce page.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from chatgpt_es.emulator.php import trim

_C_SPACE = " \t\n\x0b\x0c\r"
_LESS_THAN = re.compile(r"<[^>]*?((?=<)|>|$)")
_SCRIPT_STYLE = re.compile(r"<(script|style)[^>]*?>.*?</\1>", re.IGNORECASE | re.DOTALL)
_OCTET = re.compile(r"%[a-f0-9]{2}", re.IGNORECASE)
_BARE_AMP = re.compile(r"&(?!(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);)")
_URL_JUNK = re.compile(r"[^a-z0-9\-~+_.?#=!&;,/:%@$|*'()\[\]\x80-\U0010ffff]", re.IGNORECASE)


def esc_html(text: str) -> str:
    """``esc_html``: ENT_QUOTES special chars, without double-encoding existing entities."""
    text = _BARE_AMP.sub("&amp;", text)
    return text.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;").replace("'", "&#039;")


def _pre_kses_less_than(text: str) -> str:
    """``wp_pre_kses_less_than``: a ``<`` that opens no complete tag is HTML-escaped (with what follows)."""

    def fix(match: re.Match[str]) -> str:
        return match.group(0) if ">" in match.group(0) else esc_html(match.group(0))

    return _LESS_THAN.sub(fix, text)


def strip_tags(text: str) -> str:
    """PHP 8 ``strip_tags`` (php_strip_tags_ex without allowed tags)."""
    out: list[str] = []
    state, depth, in_q, lc, br, is_xml = 0, 0, "", "", 0, False
    n = len(text)

    def at(i: int) -> str:
        return text[i] if 0 <= i < n else "\0"

    i = 0
    while i < n:
        c = text[i]
        if c == "\0":
            pass
        elif state == 0:
            if c == "<" and not in_q:
                if at(i + 1) in _C_SPACE:
                    out.append(c)
                else:
                    lc, state = "<", 1
            elif c == ">" and depth:
                depth -= 1
            elif c == ">" and in_q:
                pass
            elif c != "<":
                out.append(c)
        elif state == 1:
            if c == "<" and not in_q and at(i + 1) not in _C_SPACE:
                depth += 1
            elif c == ">" and depth:
                depth -= 1
            elif c == ">" and not in_q:
                lc = ">"
                if not (is_xml and at(i - 1) == "-"):
                    in_q, state, is_xml = "", 0, False
            elif c in "\"'" and i != 0 and (not in_q or c == in_q):
                in_q = "" if in_q else c
            elif c == "!" and at(i - 1) == "<":
                state, lc = 3, c
            elif c == "?" and at(i - 1) == "<":
                br, state = 0, 2
        elif state == 2:
            if c in "()" and lc not in ("\"", "'"):
                lc = c
                br += 1 if c == "(" else -1
            elif c == ">" and depth:
                depth -= 1
            elif c == ">" and not in_q:
                if not br and lc != '"' and at(i - 1) == "?":
                    in_q, state = "", 0
            elif c in "\"'" and at(i - 1) != "\\":
                if lc == c:
                    lc = ""
                elif lc != "\\":
                    lc = c
                if not in_q or c == in_q:
                    in_q = "" if in_q else c
            elif c in "lL" and i > 4 and text[i - 4 : i].lower() == "<?xm":
                state, is_xml = 1, True
        elif state == 3:
            if c == ">" and depth:
                depth -= 1
            elif c == ">" and not in_q:
                in_q, state = "", 0
            elif c in "\"'" and i != 0 and at(i - 1) != "\\" and (not in_q or c == in_q):
                in_q = "" if in_q else c
            elif c == "-" and at(i - 1) == "-" and at(i - 2) == "!":
                state = 4
            elif c in "eE" and i > 6 and text[i - 6 : i].lower() == "doctyp":
                state = 1
        elif c == ">" and not in_q and at(i - 1) == "-" and at(i - 2) == "-":  # state 4: <!-- comment -->
            in_q, state = "", 0
        i += 1
    return "".join(out)


def strip_all_tags(text: str) -> str:
    """``wp_strip_all_tags`` (keeping line breaks): script/style elements go with their contents."""
    return trim(strip_tags(_SCRIPT_STYLE.sub("", text)))


def sanitize_textarea_field(text: str) -> str:
    """``sanitize_textarea_field`` = ``_sanitize_text_fields($str, true)``."""
    filtered = text
    if "<" in filtered:
        filtered = strip_all_tags(_pre_kses_less_than(filtered))
        filtered = filtered.replace("<\n", "&lt;\n")
    filtered = trim(filtered)
    found = False
    while match := _OCTET.search(filtered):
        filtered = filtered.replace(match.group(0), "")
        found = True
    if found:
        filtered = trim(re.sub(" +", " ", filtered))
    return filtered


def wp_get_referer(referer: str | None, request_path: str, site_url: str) -> str | None:
    """``wp_get_referer``: the Referer unless it is this very request or points off-site."""
    if not referer or referer in (request_path, site_url + request_path):
        return None
    location = trim(referer)
    if location.startswith("//"):
        location = "http:" + location
    try:
        parts = urlsplit(location)
        site_host = urlsplit(site_url).hostname or ""
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme and parts.scheme not in ("http", "https"):
        return None
    if parts.netloc and host not in (site_host, site_host.lower()):
        return None
    return location


def remove_query_arg(url: str, name: str) -> str:
    base, sep, query = url.partition("?")
    if not sep:
        return url
    query, hash_sep, fragment = query.partition("#")
    kept = [part for part in query.split("&") if part.split("=", 1)[0] != name]
    return base + ("?" + "&".join(kept) if kept else "") + hash_sep + fragment


def esc_url(url: str) -> str:
    """``esc_url`` for display: drop odd characters, encode ``&`` and ``'``."""
    url = url.lstrip().replace(" ", "%20")
    url = _URL_JUNK.sub("", url)
    if not url:
        return url
    for junk in ("%0d", "%0a", "%0D", "%0A"):
        while junk in url:
            url = url.replace(junk, "")
    url = url.replace(";//", "://")
    if ":" not in url and url[0] not in "/#?" and not re.match(r"^[a-z0-9-]+?\.php", url, re.IGNORECASE):
        url = "http://" + url
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme and "/" not in scheme and scheme not in ("http", "https", "ftp", "ftps", "mailto"):
        return ""
    url = _BARE_AMP.sub("&amp;", url).replace("&amp;", "&#038;")
    return url.replace("'", "&#039;")
