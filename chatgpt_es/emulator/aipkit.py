"""AIPKit generation (AI Power 2.4.71): admin-ajax.php actions other than the stream (PROTOCOL-aipkit.md)."""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from chatgpt_es.emulator.aipkit_stream import MODEL, handle_stream
from chatgpt_es.emulator.images import check_images
from chatgpt_es.emulator.php import intval, trim
from chatgpt_es.emulator.state import CacheEntry, ConversationKey, Emulator, Turn
from chatgpt_es.emulator.wire import AjaxRequest, AnyReply, Reply, die_zero, json_reply

_KEY_ALPHABET = string.ascii_letters + string.digits


def _failure(message: str, code: str) -> dict[str, Any]:
    return {"success": False, "data": {"message": message, "code": code}}


CACHE_NONCE_FAILURE = _failure(
    "Your session has expired or the request is invalid. Please refresh the page and try again.",
    "nonce_failure_cache_sse",
)
EMBED_NOT_AVAILABLE = _failure(
    "Embed feature is not available with your current plan.", "embed_not_available"
)
EMPTY_DATA = _failure("Data to cache (message or image) cannot be empty.", "empty_data_to_cache")
CONVERSATION_NONCE_FAILURE = _failure("Security check failed (nonce).", "nonce_failure")


def foreign_origin(origin: str | None, base_url: str) -> bool:
    """The plugin's embed check: an Origin whose scheme or host differs from the site's (port ignored)."""
    if origin is None:
        return False
    try:
        theirs, ours = urlsplit(origin), urlsplit(base_url)
        return (theirs.scheme, theirs.hostname) != (ours.scheme, ours.hostname)
    except ValueError:
        return True


def _cache_message(emu: Emulator, req: AjaxRequest, nonce_fault: bool) -> Reply:
    form = req.form
    emu.last_form = dict(form)
    if nonce_fault or not emu.nonce_valid(form.get("_ajax_nonce")):
        return json_reply(CACHE_NONCE_FAILURE, "nonce_rejected", 403)
    if foreign_origin(req.origin, emu.base_url):
        return json_reply(EMBED_NOT_AVAILABLE, "embed_not_available", 403)
    message = form.get("message", "")
    if not trim(message) and form.get("image_inputs", "") in ("", "[]"):
        return json_reply(EMPTY_DATA, "empty_message", 400)
    images, refused = check_images(form.get("image_inputs", ""))
    if refused is not None:
        return refused
    key = "aipkit_sse_" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(32))
    client_message_id = form.get("user_client_message_id", "")
    emu.cache[key] = CacheEntry(message, form.get("bot_id", ""), client_message_id, emu.now(), images)
    return json_reply({"success": True, "data": {"cache_key": key}}, "cache_stored")


def _refresh_nonce(emu: Emulator, _req: AjaxRequest, _nonce_fault: bool) -> Reply:
    """Needs no nonce, so a nonce fault cannot hit it."""
    return json_reply({"success": True, "data": {"nonce": emu.current_nonce()}}, "nonce_refresh")


def _conversation_key(req: AjaxRequest) -> ConversationKey:
    fields = req.fields
    return intval(fields.get("bot_id")), fields.get("session_id", ""), fields.get("conversation_uuid", "")


def turn_json(turn: Turn) -> dict[str, Any]:
    item: dict[str, Any] = {"message_id": turn.message_id, "role": turn.role, "content": turn.content,
                            "timestamp": turn.timestamp}
    if turn.role == "bot":
        item.update(provider="OpenAI", model=MODEL)
        if turn.usage is not None:
            item["usage"] = turn.usage
        item["request_payload"] = {"provider": "OpenAI", "model": MODEL, "payload_sent": turn.payload_sent}
    return item


def _nonce_guard(
    handler: Callable[[Emulator, AjaxRequest], Reply],
) -> Callable[[Emulator, AjaxRequest, bool], Reply]:
    """The conversation actions check ``_ajax_nonce`` from ``$_REQUEST`` first."""

    def guarded(emu: Emulator, req: AjaxRequest, nonce_fault: bool) -> Reply:
        if nonce_fault or not emu.nonce_valid(req.fields.get("_ajax_nonce")):
            return json_reply(CONVERSATION_NONCE_FAILURE, "nonce_rejected", 403)
        return handler(emu, req)

    return guarded


@_nonce_guard
def _history(emu: Emulator, req: AjaxRequest) -> Reply:
    thread = emu.conversations.get(_conversation_key(req), [])
    return json_reply({"success": True, "data": {"history": [turn_json(t) for t in thread]}}, "history")


@_nonce_guard
def _conversations_list(emu: Emulator, req: AjaxRequest) -> Reply:
    bot_id, session_id, _ = _conversation_key(req)
    found: list[dict[str, Any]] = [
        {"id": key[2], "title": next((t.content for t in thread if t.role == "user"), ""),
         "timestamp": thread[-1].timestamp if thread else 0}
        for key, thread in emu.conversations.items()
        if key[:2] == (bot_id, session_id)
    ]
    found.sort(key=lambda item: -item["timestamp"])
    return json_reply({"success": True, "data": {"conversations": found}}, "conversations_list")


@_nonce_guard
def _feedback(_emu: Emulator, req: AjaxRequest) -> Reply:
    feedback = req.fields.get("feedback_type", "none")
    data = {"message": "Feedback saved.", "feedback": feedback}
    return json_reply({"success": True, "data": data}, "feedback")


ACTIONS: dict[str, Callable[[Emulator, AjaxRequest, bool], AnyReply]] = {
    "aipkit_cache_sse_message": _cache_message,
    "aipkit_frontend_chat_stream": handle_stream,
    "aipkit_get_frontend_chat_nonce": _refresh_nonce,
    "aipkit_get_conversation_history": _history,
    "aipkit_get_conversations_list": _conversations_list,
    "aipkit_store_feedback": _feedback,
}


def handle_aipkit(emu: Emulator, req: AjaxRequest, *, nonce_fault: bool = False) -> AnyReply:
    action = req.fields.get("action", "")
    handler = ACTIONS.get(action)
    if handler is None:
        return die_zero(bool(action))
    return handler(emu, req, nonce_fault)
