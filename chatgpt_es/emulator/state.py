"""The running site's state: nonces, counters, what the last chat request carried, AIPKit's tables."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from chatgpt_es.emulator.config import EmulatorConfig
from chatgpt_es.emulator.counters import Counters
from chatgpt_es.emulator.faults import FaultPicker
from chatgpt_es.emulator.nonces import AIPKIT_ACTION, LEGACY_ACTION, NonceMaker
from chatgpt_es.emulator.pages import PageRenderer

Clock = Callable[[], float]


@attrs.frozen
class CacheEntry:
    """A row of ``wp_aipkit_sse_message_cache``: the message waiting for its stream request."""

    message: str
    bot_id: str
    client_message_id: str
    created: float
    #: the images of the message (their type and decoded size)
    images: tuple[Any, ...] = ()


@attrs.frozen
class Turn:
    """A row of ``wp_aipkit_chat_logs`` (role ``user`` or ``bot``)."""

    message_id: str
    role: str
    content: str
    timestamp: int
    payload_sent: dict[str, Any] | None = None
    #: the model's token usage, normalised as the plugin stores it (None: the model reported none)
    usage: dict[str, Any] | None = None


ConversationKey = tuple[int, str, str]  # (bot_id, session_id, conversation_uuid)


class Emulator:
    """One emulated site.  ``clock`` (default ``time.time``) may be replaced at any time, e.g. by tests."""

    def __init__(self, config: EmulatorConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock if clock is not None else time.time
        self.nonces = NonceMaker(config.nonce_life, lambda: self.clock())
        self.pages = PageRenderer.load(config)
        self.base_url = ""
        self.ca_file: Path | None = None
        self.counters = Counters()
        self.faults = FaultPicker(config)
        self.rng = random.Random()
        self.last_history: list[tuple[str, str]] = []
        self.last_form: dict[str, str] = {}
        self.cache: dict[str, CacheEntry] = {}
        self.conversations: dict[ConversationKey, list[Turn]] = {}
        #: legacy custom bots' chat log rows: (source, md5 of client id and post id) -> row id
        self.chat_logs: dict[tuple[str, str], int] = {}
        #: the chatbots the site has (AIPKit: 5 is the capture's bot, 9 a second one)
        self.bot_ids: frozenset[int] = frozenset({5, 9}) if config.generation == "aipkit" else frozenset({0})
        #: the ``previous_openai_response_id`` of the last stream request (None: not sent)
        self.last_previous_response_id: str | None = None
        #: AIPKit guest token usage by (session_id, bot_id)
        self.token_usage: dict[tuple[str, int], int] = {}
        #: what the REST route forwarded upstream for the last message (system prompt first)
        self.last_rest: list[dict[str, str]] = []

    @property
    def nonce_action(self) -> str:
        return LEGACY_ACTION if self.config.generation == "legacy" else AIPKIT_ACTION

    def now(self) -> float:
        return self.clock()

    def current_nonce(self) -> str:
        """The nonce a page rendered now carries (and the AIPKit refresh endpoint hands out)."""
        return self.nonces.create(self.nonce_action)

    def nonce_valid(self, nonce: str | None) -> bool:
        return self.nonces.verify(nonce, self.nonce_action) > 0
