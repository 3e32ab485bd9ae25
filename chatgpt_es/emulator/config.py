"""Configuration of the emulated WordPress + AI Power site."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

FAULT_KINDS: tuple[str, ...] = ("500", "502", "429", "drop", "truncate", "nonce")
GENERATIONS: tuple[str, ...] = ("legacy", "aipkit")
PAGE_KINDS: tuple[str, ...] = ("shortcode", "widget", "custom-bot", "two-bots", "same-bot-twice")


def _as_tuple(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _check_faults(_inst: object, _attr: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]) -> None:
    unknown = [kind for kind in value if kind not in FAULT_KINDS]
    if unknown:
        raise ValueError(f"unknown fault kinds {unknown!r}; known: {FAULT_KINDS!r}")


def _check_rate(_inst: object, _attr: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"fault_rate must be within [0, 1], got {value!r}")


@attrs.frozen
class EmulatorConfig:
    """Everything that shapes one emulated site; immutable so it can be shared between threads."""

    host: str = "127.0.0.1"
    port: int = 0
    generation: str = attrs.field(default="legacy", validator=attrs.validators.in_(GENERATIONS))
    stream: bool = False
    page: str = attrs.field(default="shortcode", validator=attrs.validators.in_(PAGE_KINDS))
    bot_id: int = 42
    nonce_life: float = attrs.field(default=86400.0, validator=attrs.validators.gt(0.0))
    latency: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))
    chunk_delay: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))
    fault_rate: float = attrs.field(default=0.0, validator=_check_rate)
    fault_seed: int = 0
    faults: tuple[str, ...] = attrs.field(default=FAULT_KINDS, converter=_as_tuple, validator=_check_faults)
    retry_after: int = 1
    cloudflare: bool = False
    tls: bool = False
    cache_ttl: float = 60.0
    #: AIPKit: the site owner's REST API key (None: the REST API is off, as by default)
    rest_key: str | None = None
    #: WordPress "plain" permalinks: no ``/wp-json/`` routing, the REST root is ``?rest_route=/``
    plain_permalinks: bool = False
    #: AIPKit: the bot keeps OpenAI conversation state (Responses mode; the page says so in its data-config)
    conversation_state: bool = False
    #: AIPKit: the provider speaks OpenAI's Responses API (``status`` and ``openai_response_id`` events)
    responses_mode: bool = False
    #: AIPKit guest token quota: None unlimited, 0 guests disabled, N tokens per (session, bot)
    guest_limit: int | None = None
    #: the quota message (None: the plugin's default) and up to two actions, (label, url) each
    quota_message: str | None = None
    quota_actions: tuple[tuple[str, str], ...] = ()
