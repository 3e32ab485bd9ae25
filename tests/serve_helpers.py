"""Helpers of the ``chatgpt-es serve`` tests: the server in front of a local site, in a thread of its own."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from e2e_helpers import settings, site_of

from chatgpt_es.emulator import Emulator
from chatgpt_es.server import ServerConfig, ServerThread, SiteEntry
from chatgpt_es.server.sites import DEFAULT_NAME


def config_for(emu: Emulator, *, concurrency: int = 16, sites: dict[str, SiteEntry] | None = None,
               api_key: str | None = None, **settings_options: Any) -> ServerConfig:
    """The server's configuration with ``emu`` as its default site (no system prompt, no retries)."""
    return ServerConfig(default=SiteEntry(DEFAULT_NAME, site_of(emu), concurrency), sites=sites or {},
                        api_key=api_key, settings=settings(emu, **settings_options))


@contextlib.contextmanager
def served(emu: Emulator, **options: Any) -> Iterator[str]:
    """``serve`` in front of ``emu`` on 127.0.0.1 (OS-picked port); yields the base URL, stops at exit."""
    with ServerThread(config_for(emu, **options)) as url:
        yield url


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]
