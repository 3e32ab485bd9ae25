"""The seed's protocol: AI Power 1.9.x (``wpaicg``), PROTOCOL.md.

One POST per message to ``admin-ajax.php``; the answer is JSON
(``status``/``data``/``msg``) or, on streaming sites, OpenAI-style chunks as
server-sent events ending in ``data: [DONE]``.  The history travels with each
message in ``wpaicg_chat_history``.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from .errors import (
    AnswerFormatError,
    ConsentRequiredError,
    ImagesNotSupportedError,
    ModelFailedError,
    NonceRejectedError,
    SiteRefusedError,
    StreamInterruptedError,
    TokenLimitError,
)
from .jsontext import clean, loads
from .models import AnswerHead, ChatBox, Conversation, HttpRequest, Outcome, Prompt, Stamp, Text
from .parse import ChatProtocol, StreamProgress, leftover_error, load_json
from .redact import without_userinfo
from .sse import SseEvent

SHORTCODE_ACTION = "wpaicg_chat_shortcode_message"
WIDGET_ACTION = "wpaicg_chatbox_message"
CONSENT_TEXT = "Du musst das Kästchen anklicken!"


def chatbot_identity(box: ChatBox) -> tuple[str, str, str]:
    """(action, bot_id, chatbot_identity) for the page's chat box, as the plugin's script sends them."""
    widget = box.box_type == "widget" or box.markup == "wpaicg-chatbox"
    action = WIDGET_ACTION if widget else SHORTCODE_ACTION
    bot_id = box.bot_number
    if bot_id != "0":
        return action, bot_id, f"custom_bot_{bot_id}"
    return action, bot_id, "widget" if widget else "shortcode"


def build_request(prompt: Prompt, box: ChatBox, conversation: Conversation, endpoint: str,
                  stamp: Stamp, site_url: str) -> HttpRequest:
    """Payload stage: the chat POST, fields as PROTOCOL.md §2 lists them."""
    action, bot_id, identity = chatbot_identity(box)
    if prompt.images:
        raise ImagesNotSupportedError("this site's chat box (AI Power 1.9.x) takes no images")
    inline = prompt.history == "inline" and bool(prompt.turns)  # the message field reaches the model unaltered
    history = "[]" if inline else json.dumps(list(prompt.history_lines), ensure_ascii=False)
    return HttpRequest(
        method="POST",
        url=endpoint,
        purpose="message",
        form=(
            ("_wpnonce", box.nonce.value),
            ("post_id", box.post_id.value),
            ("url", box.page_url or without_userinfo(site_url)),
            ("action", action),
            ("message", prompt.inline_text if inline else prompt.text),
            ("bot_id", bot_id),
            ("chatbot_identity", identity),
            ("wpaicg_chat_history", history),
            ("wpaicg_chat_client_id", conversation.client_id),
        ),
        headers=(("x-requested-with", "XMLHttpRequest"),),
    )


def interpret_json(head: AnswerHead, answer: Any, body: bytes) -> tuple[Outcome, ...]:
    """The plugin's JSON answer: ``status`` decides (``msg`` says "Something went wrong" even on success)."""
    if not isinstance(answer, dict):
        raise AnswerFormatError("the answer is JSON but not an object", status=head.status, body=body)
    if answer.get("tokenLimitReached"):
        raise TokenLimitError(str(answer.get("msg") or "token limit reached"), status=head.status, body=body)
    status = answer.get("status")
    if status == "error":
        raise SiteRefusedError(f"the site refused: {answer.get('msg') or 'no reason given'}",
                               status=head.status, body=body)
    data = answer.get("data")
    if status == "success" and isinstance(data, str):
        if CONSENT_TEXT in data:
            raise ConsentRequiredError("the site wants its consent checkbox ticked", status=head.status, body=body)
        return (Text(clean(data)),) if data else ()
    raise AnswerFormatError("the answer has no status/data this protocol knows", status=head.status, body=body)


def on_body(purpose: str, head: AnswerHead, body: bytes) -> tuple[Outcome, ...]:
    if head.status != 200:
        error = leftover_error(head, body)
        if head.status == 403 and not isinstance(error, NonceRejectedError):
            # WordPress's "The link you followed has expired." is translated on localised sites: a 403 from the
            # chat action (Cloudflare's is recognised before this) is its nonce check failing, in any language.
            error = NonceRejectedError("WordPress refused the request: for this action, the nonce check",
                                       status=403, body=body)
        raise error
    return interpret_json(head, load_json(head, body), body)


def on_event(progress: StreamProgress, event: SseEvent) -> tuple[StreamProgress, tuple[Outcome, ...]]:
    """One OpenAI-style chunk relayed by the plugin."""
    data = event.data.strip()
    if data == "[DONE]":
        return attrs.evolve(progress, ended=True), ()
    if data == "[LIMITED]":
        raise TokenLimitError("the site's token limit is reached", body=data)
    try:
        chunk = loads(data)
    except ValueError:
        raise AnswerFormatError("an event of the stream is not JSON", body=data) from None
    if isinstance(chunk, dict) and ("tokenLimitReached" in chunk or "status" in chunk):
        whole = interpret_json(AnswerHead("", 200, ()), chunk, data.encode())  # a JSON answer inside the stream
        return attrs.evolve(progress, started=progress.started or bool(whole), ended=True), whole
    if not isinstance(chunk, dict) or not isinstance(chunk.get("choices"), list):
        raise AnswerFormatError("an event of the stream has no choices", body=data)
    outcomes: list[Outcome] = []
    ended = False
    for choice in chunk["choices"]:
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        content = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(content, str) and content:
            progress, text = _screened(progress, clean(content), data)
            outcomes += [Text(text)] if text else []
        ended = ended or bool(choice.get("finish_reason"))
    return attrs.evolve(progress, started=progress.started or bool(outcomes), ended=ended), tuple(outcomes)


def _screened(progress: StreamProgress, piece: str, data: str) -> tuple[StreamProgress, str]:
    """Hold back the start of an answer while it could still be the consent demand, sent in pieces.

    Returns the new progress and the text that may go to the caller now.
    """
    if progress.settled:
        return progress, piece
    candidate = progress.held + piece
    if CONSENT_TEXT in candidate:
        raise ConsentRequiredError("the site wants its consent checkbox ticked", body=data)
    if CONSENT_TEXT.startswith(candidate):
        return attrs.evolve(progress, held=candidate), ""
    return attrs.evolve(progress, held="", settled=True), candidate


def on_end(progress: StreamProgress) -> tuple[Outcome, ...]:
    if not progress.ended and not progress.started and not progress.held:
        # measured on the real 1.9.11 plugin: its model down, a streaming site answers 200 with an empty stream
        raise ModelFailedError("the site's model failed: the answer stream ended empty, with no error event "
                               "(the site owner's AI key, quota or provider)")
    if not progress.ended:
        raise StreamInterruptedError("the stream ended without [DONE] or a finish_reason", body=progress.held)
    return (Text(progress.held),) if progress.held else ()


LEGACY = ChatProtocol(
    name="legacy",
    build_request=build_request,
    follow_up=None,
    refresh_nonce=None,
    on_body=on_body,
    on_event=on_event,
    on_end=on_end,
)
