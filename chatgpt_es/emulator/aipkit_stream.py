"""AIPKit's stream request (``GET admin-ajax.php?action=aipkit_frontend_chat_stream``), PROTOCOL-aipkit.md
§3-6.

Always ``200 text/event-stream``: errors are SSE events too.  The checks run in the plugin's order; the
cache entry is consumed (single use) by every request that gets past the lookup.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from chatgpt_es.emulator.legacy import echo_answer, split_pieces
from chatgpt_es.emulator.php import intval, json_encode, uniqid_more_entropy
from chatgpt_es.emulator.quota import quota_refusal, record_usage
from chatgpt_es.emulator.responses import scripted_events
from chatgpt_es.emulator.state import ConversationKey, Emulator, Turn
from chatgpt_es.emulator.wire import AIPKIT_DONE as DONE
from chatgpt_es.emulator.wire import AIPKIT_PREAMBLE as PREAMBLE
from chatgpt_es.emulator.wire import AIPKIT_SSE_HEADERS, AjaxRequest, SseEvent, SseReply, sse_event

BOT_ID = 5
MAX_MESSAGES = 15
MODEL = "gpt-4o-mini"
PROVIDER_ERROR = "API Error: Unknown path /v1/messages Type: invalid_request_error"


def _data(value: object) -> str:
    """SSE payloads: PHP ``json_encode`` with raw UTF-8 but escaped slashes."""
    return json_encode(value, unescaped_unicode=True)


def _error_event(text: str, now: float, name: str = "error") -> SseEvent:
    return SseEvent(sse_event(_data({"error": text}), name, f"err-{int(now)}"))


def _fail(emu: Emulator, text: str, outcome: str) -> SseReply:
    return SseReply(AIPKIT_SSE_HEADERS, (PREAMBLE, _error_event(text, emu.now()), DONE), outcome)


def system_prompt(now: float) -> str:
    day = datetime.fromtimestamp(now, UTC)
    date = f"{day:%B} {day.day}, {day.year}"
    return f"You are a helpful AI Assistant. Please be friendly. Today's date is {date}."


def payload_sent(thread: list[Turn], message: str, now: float) -> dict[str, Any]:
    """What the plugin would send upstream: system, the thread's last turns, the new user message."""
    history = [
        {"role": "user" if turn.role == "user" else "assistant", "content": turn.content}
        for turn in thread[-MAX_MESSAGES:]
    ]
    return {
        "messages": [{"role": "system", "content": system_prompt(now)}, *history,
                     {"role": "user", "content": message}],
        "model": MODEL, "temperature": 1, "top_p": 1, "stream": True, "max_completion_tokens": 4000,
        "stream_options": {"include_usage": True},
    }


def usage_of(sent: dict[str, Any], pieces: int) -> dict[str, Any]:
    """The usage the plugin stores for an answer: the model reports it, as ``stream_options.include_usage`` asks
    (the real plugin's history shows it; the upstream of the captures never reported any). Words stand for tokens."""
    prompt = sum(len(str(m["content"]).split()) for m in sent["messages"])
    raw = {"prompt_tokens": prompt, "completion_tokens": pieces, "total_tokens": prompt + pieces}
    return {"input_tokens": prompt, "output_tokens": pieces, "total_tokens": prompt + pieces, "provider_raw": raw}


def _extra_events(message: str, now: float) -> list[SseEvent]:
    """Events the JS listens for besides text, produced on request by test triggers in the message."""
    extras: list[SseEvent] = []
    if "[[warning]]" in message:
        warning = {"error": "Web search is not available; answering without it."}
        extras.append(SseEvent(sse_event(_data(warning), "warning")))
    if "[[events]]" in message:
        status = {"text": "Searching the knowledge base...", "label": "Searching", "type": "info"}
        citations = {"citations": [{"title": "Example Domain", "url": "https://example.com/"}]}
        extras += [
            SseEvent(sse_event(_data(status), "status")),
            SseEvent(sse_event(_data(citations), "citations")),
            SseEvent(sse_event(_data({"id": f"resp_{secrets.token_hex(24)}"}), "openai_response_id")),
        ]
    return extras


def handle_stream(emu: Emulator, req: AjaxRequest, nonce_fault: bool) -> SseReply:
    query, now = req.query, emu.now()
    if nonce_fault or not emu.nonce_valid(query.get("_ajax_nonce")):
        return _fail(emu, "Security check failed. Please refresh the page and try again.", "nonce_rejected")
    cache_key = query.get("cache_key", "")
    if not cache_key:
        return _fail(emu, "Message cache key is missing.", "cache_missing_key")
    entry = emu.cache.pop(cache_key, None)
    if entry is None:
        return _fail(emu, "Message not found in cache.", "cache_miss")
    if now - entry.created > emu.config.cache_ttl:
        return _fail(emu, "Cached message has expired.", "cache_expired")
    conversation_uuid = query.get("conversation_uuid", "")
    if not conversation_uuid:
        return _fail(emu, "Conversation ID is missing.", "missing_conversation")
    session_id = query.get("session_id", "")
    if not session_id:
        return _fail(emu, "Session ID is missing for guest.", "missing_session")
    bot_id = intval(query.get("bot_id"))
    if bot_id not in emu.bot_ids:
        return _fail(emu, "Invalid chatbot specified.", "invalid_bot")
    refusal = quota_refusal(emu, bot_id, session_id)
    if refusal is not None:
        return refusal
    message = entry.message
    if "[[token-limit]]" in message:
        return _fail(emu, "You have reached your token limit.", "token_limit")

    key: ConversationKey = (bot_id, session_id, conversation_uuid)
    thread = emu.conversations.get(key, [])
    message_id = "aipkit-msg-" + uniqid_more_entropy(now, emu.rng)
    events = [PREAMBLE, SseEvent(sse_event(_data({"message_id": message_id}), "message_start"))]
    answer = echo_answer(message, len(thread))
    if entry.images:  # what the upstream got besides the text (the model "sees" them)
        answer += f" [images: {', '.join(image.type for image in entry.images)}]"
    deltas = [SseEvent(sse_event(_data({"delta": piece})), content=True) for piece in split_pieces(answer)]
    if "[[model-down]]" in message:  # as the legacy plugin does with its model down: the stream ends empty
        return SseReply(AIPKIT_SSE_HEADERS, (PREAMBLE,), "model_down")
    if "[[nonce-after-text]]" in message:  # text, then a nonce refusal (no message_start): must not be resent
        events = [PREAMBLE, *deltas[:2], _error_event("Security check failed. Please refresh the page.", now)]
        return SseReply(AIPKIT_SSE_HEADERS, tuple(events), "nonce_after_text")
    if "[[provider-fail]]" in message:
        events += [*deltas[:2], _error_event(PROVIDER_ERROR, now)]
        return SseReply(AIPKIT_SSE_HEADERS, tuple(events), "provider_fail")
    emu.last_previous_response_id = query.get("previous_openai_response_id")
    scripted = scripted_events(message, deltas, emu.config.responses_mode or emu.config.conversation_state, now)
    if scripted is not None and not scripted.complete:
        return SseReply(AIPKIT_SSE_HEADERS, (*events, *scripted.events), scripted.outcome)
    if scripted is not None:
        events += scripted.events
    else:
        middle = len(deltas) // 2
        events += [*deltas[:middle], *_extra_events(message, now), *deltas[middle:], DONE]
    record_usage(emu, bot_id, session_id)
    sent = payload_sent(thread, message, now)
    emu.conversations[key] = [
        *thread,
        Turn(entry.client_message_id, "user", message, int(entry.created)),
        Turn(message_id.replace(".", ""), "bot", answer, int(now), sent, usage_of(sent, len(deltas))),
    ]
    return SseReply(AIPKIT_SSE_HEADERS, tuple(events), scripted.outcome if scripted else "stream")
