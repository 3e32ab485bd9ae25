"""JSON and text from the wire, made safe to hand on.

``loads`` turns every way a JSON text can be bad — including nesting deep
enough to exhaust the recursion limit — into one ``ValueError``; ``clean``
replaces lone surrogates (``"\\ud83d"`` in a JSON string decodes to one) with
U+FFFD, so text from a site can always be printed, encoded and sent on.
"""

from __future__ import annotations

import json
from typing import Any

UTF8_BOM = b"\xef\xbb\xbf"


def loads(text: str | bytes) -> Any:
    """``json.loads``, raising ``ValueError`` for anything it cannot take (a leading BOM is allowed)."""
    if isinstance(text, bytes):
        text = text.removeprefix(UTF8_BOM).decode("utf-8")
    try:
        return json.loads(text.removeprefix("\ufeff"))
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def clean(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (valid pairs are joined)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text
