"""The caller's choices about where a message goes: the bot, the site owner's REST key, the history strategy.

Given as keywords (``bot_id=``, ``api_key=``, ``history=``) to ``create_async_generator``, ``Chat`` and
``ChatGptEs.chat``; they end up on the :class:`~chatgpt_es.runtime.client.Site`.  The key is registered
as a secret first, so that no log line can show it.
"""

from __future__ import annotations

from typing import Any

import attrs

from stages.errors import InvalidArgumentError
from stages.prompt import HISTORY_STRATEGIES

from .client import Site
from .logs import add_secrets

#: the keywords this module takes
CHOICES = frozenset({"bot_id", "api_key", "history"})


def with_choices(site: Site, *, bot_id: Any = None, api_key: Any = None, history: Any = None) -> Site:
    """``site`` with the caller's choices applied (None keeps the site's own); malformed ones are refused."""
    changes: dict[str, Any] = {}
    if bot_id is not None:
        text = str(bot_id).strip() if isinstance(bot_id, str | int) and not isinstance(bot_id, bool) else ""
        if not text:
            raise InvalidArgumentError(f"bot_id must be a bot's id (a number or a string), not {bot_id!r}")
        changes["bot_id"] = text
    if api_key is not None:
        if not isinstance(api_key, str) or not api_key.strip() or any(c in api_key for c in "\r\n"):
            raise InvalidArgumentError("api_key must be the site's REST API key, a non-empty one-line string")
        add_secrets((api_key, api_key.strip()))
        changes["api_key"] = api_key.strip()
    if history is not None:
        if history not in HISTORY_STRATEGIES:
            raise InvalidArgumentError(f"history must be one of {', '.join(HISTORY_STRATEGIES)}, not {history!r}")
        changes["history"] = history
    return attrs.evolve(site, **changes) if changes else site


def choices_of(site: Site) -> dict[str, Any]:
    """The choices ``site`` carries, as the keywords :func:`with_choices` takes (for a provider call)."""
    given = {"bot_id": site.bot_id, "api_key": site.api_key, "history": site.history}
    return {name: value for name, value in given.items() if value is not None}
