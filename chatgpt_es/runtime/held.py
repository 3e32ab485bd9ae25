"""Recognising a conversation a client holds, for the provider's stateless calls.

``create_async_generator`` gets the whole conversation each time.  On AIPKit sites the server keeps the
conversation under the ids of the first message, so the client holds those ids under a key made of the
turns so far; the next call, with the same earlier turns plus one, finds them again.
"""

from __future__ import annotations

import hashlib
from typing import Any

from stages.prompt import content_text

from .client import Site


def turns_of(messages: list[Any]) -> list[tuple[str, str]]:
    """(role, text) of each message, for recognising a conversation this client holds."""
    return [(str(m.get("role")), content_text(m.get("content", ""), f"messages[{i}]")) if isinstance(m, dict)
            else ("?", repr(m)) for i, m in enumerate(messages)]


def held_key(site: Site, turns: list[tuple[str, str]]) -> tuple[str, str]:
    """The key of a conversation with ``site`` after ``turns``: per site and per bot (each bot keeps its own
    thread), and a digest of the turns (in this process only: ``repr`` is unambiguous for pairs of strings, and
    cheaper than JSON)."""
    owner = site.url if site.bot_id is None else f"{site.url}#bot={site.bot_id}"
    return owner, hashlib.sha256(repr(turns).encode("utf-8", "surrogatepass")).hexdigest()
