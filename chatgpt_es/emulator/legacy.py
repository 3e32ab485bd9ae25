"""Legacy generation (AI Power 1.9.x, ``wpaicg``): the chat actions of admin-ajax.php (PROTOCOL.md §2-3)."""

from __future__ import annotations

import hashlib
import json
import re

from chatgpt_es.emulator.php import addslashes
from chatgpt_es.emulator.state import Emulator
from chatgpt_es.emulator.wire import (
    DIE_HEADERS,
    LEGACY_SSE_HEADERS,
    AjaxRequest,
    AnyReply,
    Reply,
    SseEvent,
    SseReply,
    die_zero,
    json_reply,
    sse_event,
)
from chatgpt_es.emulator.wpcore import esc_url, remove_query_arg, sanitize_textarea_field, wp_get_referer

CHAT_ACTIONS = ("wpaicg_chat_shortcode_message", "wpaicg_chatbox_message")
MEMORY_LIMIT = 100
GREETING = (
    "Converse as if you were an AI assistant. Answer the question as truthfully as possible using the "
    'provided context. Tone: Friendly.\n, Current context: "Chat"'
)
EXPIRED = "The link you followed has expired."
TOKEN_LIMIT = "You have reached your token limit."
CONSENT = "Du musst das Kästchen anklicken!"
UPSTREAM_ERROR = "Incorrect API key provided."
EMPTY_MESSAGE = "It appears that nothing was inputted."

# Splits an answer into stream pieces the way the fake upstream of the captures did:
# "Echo: What is my name?" -> "Echo", ":", " What", " is", " my", " name?" (captures 20 and 21).
PIECES = re.compile(r"\s*[^\s:]+|\s*:|\s+")

# The fake upstream LLM behind the captures; the plugin relays its chunks byte for byte.
_CHUNK_HEAD = (
    '{"id":"chatcmpl-FAKE000000000000000000000001","object":"chat.completion.chunk","created":1740000000,'
    '"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_fake0001","choices":[{"index":0,"delta":'
)
_ROLE_DELTA = '{"role":"assistant","content":"","refusal":null}'


def split_pieces(text: str) -> list[str]:
    return PIECES.findall(text)


def _reject_constant(name: str) -> object:
    raise ValueError(f"PHP's json_decode rejects {name}")


def decode_history(raw: str | None) -> list[tuple[str, str]]:
    """The plugin's reading of ``wpaicg_chat_history``: magic quotes, ``sanitize_textarea_field``, every
    backslash deleted, ``json_decode``; undecodable input silently means no history at all."""
    if not raw:
        return []
    text = sanitize_textarea_field(addslashes(raw)).replace("\\", "")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return []
    items = list(data.values()) if isinstance(data, dict) else data
    if not isinstance(items, list):
        return []
    turns: list[tuple[str, str]] = []
    for item in items:
        value = item.get("text") if isinstance(item, dict) else item
        if not isinstance(value, str):
            continue
        if value.startswith("Human: "):
            turns.append(("user", value[len("Human: ") :]))
        else:
            turns.append(("assistant", value[len("AI: ") :] if value.startswith("AI: ") else value))
    return turns[-MEMORY_LIMIT:]


def echo_answer(message: str, earlier_turns: int) -> str:
    if earlier_turns == 0:
        return f"Echo: {message}"
    return f"Echo: {message} (after {earlier_turns} earlier turns)"


def _chunk(delta: str, finish: str = "null") -> bytes:
    return sse_event(f'{_CHUNK_HEAD}{delta},"logprobs":null,"finish_reason":{finish}}}]}}')


def _content_chunk(piece: str) -> bytes:
    return _chunk(json.dumps({"content": piece}, ensure_ascii=False, separators=(",", ":")))


def _stream_answer(text: str, outcome: str) -> SseReply:
    events = [SseEvent(_chunk(_ROLE_DELTA))]
    events += [SseEvent(_content_chunk(piece), content=True) for piece in split_pieces(text)]
    events += [SseEvent(_chunk("{}", '"stop"')), SseEvent(sse_event("[DONE]"))]
    return SseReply(LEGACY_SSE_HEADERS, tuple(events), outcome)


def chat_log_id(emu: Emulator, fields: dict[str, str]) -> int | str | bool:
    """The answer's ``log``: a custom bot made with the plugin's "new bot" defaults saves its logs
    (``save_logs`` 1), one row per client id and post; the id is an int when this message created the row,
    the stored id as a string after (wpdb reads strings).  The site-wide bots keep no logs: ``false``."""
    bot_id = fields.get("bot_id", "0")
    if bot_id in ("", "0"):
        return False
    client_id, post_id = fields.get("wpaicg_chat_client_id", ""), fields.get("post_id", "")
    key = (f"custom_bot_{bot_id}", hashlib.md5(f"{client_id}-{post_id}".encode()).hexdigest())
    if key in emu.chat_logs:
        return str(emu.chat_logs[key])
    emu.chat_logs[key] = len(emu.chat_logs) + 1
    return emu.chat_logs[key]


def _expired(emu: Emulator, req: AjaxRequest) -> Reply:
    """``wp_nonce_ays`` under DOING_AJAX: the bare message, plus a link back when the referer is on-site."""
    body = EXPIRED
    referer = req.fields.get("_wp_http_referer") or req.referer
    link = wp_get_referer(referer, req.path, emu.base_url)
    if link:
        body += f'</p><p><a href="{esc_url(remove_query_arg(link, "updated"))}">Please try again.</a>'
    return Reply(403, DIE_HEADERS, body.encode(), "nonce_rejected")


def handle_legacy(emu: Emulator, req: AjaxRequest, *, nonce_fault: bool = False) -> AnyReply:
    fields = req.fields
    action = fields.get("action", "")
    if action not in CHAT_ACTIONS:
        return die_zero(bool(action))
    emu.last_form = dict(fields)
    if nonce_fault or not emu.nonce_valid(fields.get("_wpnonce")):
        return _expired(emu, req)
    message = fields.get("message", "")
    if not message:
        return json_reply({"status": "error", "msg": EMPTY_MESSAGE}, "empty_message")
    emu.last_history = decode_history(fields.get("wpaicg_chat_history"))
    stream = emu.config.stream
    if "[[token-limit]]" in message:
        if stream:
            return SseReply(LEGACY_SSE_HEADERS, (SseEvent(sse_event("[LIMITED]")),), "token_limit")
        return json_reply({"msg": TOKEN_LIMIT, "tokenLimitReached": True}, "token_limit")
    if "[[model-down]]" in message and stream:
        # measured on the real 1.9.11 plugin with its model down: 200 text/event-stream, an empty body
        return SseReply(LEGACY_SSE_HEADERS, (), "model_down")
    if "[[upstream-error]]" in message:
        if not stream:
            return json_reply({"status": "error", "msg": UPSTREAM_ERROR}, "upstream_error")
        events = [SseEvent(_content_chunk(piece), content=True) for piece in split_pieces(UPSTREAM_ERROR)]
        events.append(SseEvent(sse_event('{"choices":[{"finish_reason":"stop"}]}')))
        return SseReply(LEGACY_SSE_HEADERS, tuple(events), "upstream_error")
    if "[[consent]]" in message:
        answer, outcome = CONSENT, "consent"
    else:
        answer, outcome = echo_answer(message, len(emu.last_history)), "answer"
    if stream:
        return _stream_answer(answer, "stream" if outcome == "answer" else outcome)
    body = {"status": "success", "msg": "Something went wrong", "greeting_message": GREETING,
            "data": answer, "log": chat_log_id(emu, fields)}
    return json_reply(body, outcome)
