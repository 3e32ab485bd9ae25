"""AIPKit's guest token quota (PROTOCOL-aipkit-additions §4): checked on the stream request only.

Usage is counted per (session_id, bot) in tokens, recorded after each answered stream; a visitor is
blocked once ``used >= limit`` (one message may overshoot).  Limit 0 means guests may not chat at all.
The answer is a ``200`` event stream: an ``error`` event (with ``quota_notice`` for the quota) then ``done``.
"""

from __future__ import annotations

from chatgpt_es.emulator.php import json_encode
from chatgpt_es.emulator.state import Emulator
from chatgpt_es.emulator.wire import AIPKIT_DONE, AIPKIT_PREAMBLE, AIPKIT_SSE_HEADERS, SseEvent, SseReply, sse_event

#: what one answered message costs (the upstream's ``usage.total_tokens`` in capture 91)
TOKENS_PER_ANSWER = 16
DEFAULT_MESSAGE = "You have reached your quota for this period."
GUESTS_DISABLED = "Access disabled for guests."


def _reply(payload: dict[str, object], now: float, outcome: str) -> SseReply:
    error = SseEvent(sse_event(json_encode(payload, unescaped_unicode=True), "error", f"err-{int(now)}"))
    return SseReply(AIPKIT_SSE_HEADERS, (AIPKIT_PREAMBLE, error, AIPKIT_DONE), outcome)


def quota_refusal(emu: Emulator, bot_id: int, session_id: str) -> SseReply | None:
    """The stream's answer when this guest may not chat (any more), else None."""
    limit = emu.config.guest_limit
    if limit is None:
        return None
    if limit == 0:
        return _reply({"error": GUESTS_DISABLED}, emu.now(), "guests_disabled")
    if emu.token_usage.get((session_id, bot_id), 0) < limit:
        return None
    message = emu.config.quota_message or DEFAULT_MESSAGE
    actions = [{"label": label, "url": url, "variant": variant}
               for (label, url), variant in zip(emu.config.quota_actions, ("primary", "secondary"), strict=False)]
    notice = {"type": "quota_notice", "message": message, "actions": actions}
    return _reply({"error": message, "quota_notice": notice}, emu.now(), "quota")


def record_usage(emu: Emulator, bot_id: int, session_id: str) -> None:
    key = (session_id, bot_id)
    emu.token_usage[key] = emu.token_usage.get(key, 0) + TOKENS_PER_ANSWER
