"""The sites a server talks to: the default one, and those of a ``--sites`` TOML file, each a model id.

.. code-block:: toml

    [local]                          # the model id clients send
    url = "http://127.0.0.1:8080/"   # the chat page (required)
    endpoint = "…/admin-ajax.php"    # optional: the AJAX endpoint, else the one the page names
    system = "Be brief."             # optional: the system prompt, else the server's (--system)
    concurrency = 4                  # optional: concurrent site requests, else the server's (--concurrency)
    bot = "9"                        # optional: which chat box (bot id), else the page's first
    site_key = "aipk_live_…"         # optional: the site owner's REST API key (messages go through it)
    history = "auto"                 # optional: legacy history strategy (auto, structured, inline)
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from chatgpt_es.runtime.choices import with_choices
from pipeline import ChatGptEs, InvalidArgumentError, Site

DEFAULT_NAME = "default"
KEYS = frozenset({"url", "endpoint", "system", "concurrency", "bot", "site_key", "history"})


@attrs.frozen
class SiteEntry:
    """One site the server talks to, under its model id."""

    name: str
    site: Site
    concurrency: int


def provider_for(site: Site) -> type[ChatGptEs]:
    """The seed's provider bound to ``site``: its ``create_async_generator`` keeps server-kept conversations."""

    class Served(ChatGptEs):
        url = site.url

    if site.api_endpoint is None:
        return Served

    class ServedWithEndpoint(Served):
        api_endpoint = str(site.api_endpoint)

    return ServedWithEndpoint


def load_sites(path: Path, system_prompt: str, concurrency: int) -> dict[str, SiteEntry]:
    """The sites of a TOML file; any mistake is an :class:`InvalidArgumentError` naming the site and key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise InvalidArgumentError(f"cannot read the sites file {path}: {error}") from None
    if not data:
        raise InvalidArgumentError(f"the sites file {path} names no site")
    return {name: _entry(path, name, table, system_prompt, concurrency) for name, table in data.items()}


def _entry(path: Path, name: str, table: Any, system_prompt: str, concurrency: int) -> SiteEntry:
    where = f"{path}: [{name}]"
    if name == DEFAULT_NAME or name in ChatGptEs.models:
        raise InvalidArgumentError(f"{where}: {name!r} is reserved for the default site")
    if not isinstance(table, Mapping):
        raise InvalidArgumentError(f"{where} must be a table with at least url = \"…\"")
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise InvalidArgumentError(f"{where}: unknown keys {unknown}; known: {sorted(KEYS)}")
    url, endpoint, system = table.get("url"), table.get("endpoint"), table.get("system", system_prompt)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidArgumentError(f"{where}: url must be an http(s) URL")
    if endpoint is not None and not isinstance(endpoint, str):
        raise InvalidArgumentError(f"{where}: endpoint must be a string")
    if not isinstance(system, str):
        raise InvalidArgumentError(f"{where}: system must be a string")
    limit = table.get("concurrency", concurrency)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidArgumentError(f"{where}: concurrency must be a positive integer")
    try:
        site = with_choices(Site(url=url, api_endpoint=endpoint, system_prompt=system), bot_id=table.get("bot"),
                            api_key=table.get("site_key"), history=table.get("history"))
    except InvalidArgumentError as error:
        raise InvalidArgumentError(f"{where}: {error}") from None
    return SiteEntry(name, site, limit)
