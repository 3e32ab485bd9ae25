"""The current generation: AI Power 2.x ("AIPKit"), PROTOCOL-aipkit.md.

One message is two requests: ``aipkit_cache_sse_message`` (POST; answers a
single-use cache key that lives 60 s), then ``aipkit_frontend_chat_stream``
(GET, read as an event stream).  The server keeps the history, keyed by the
visitor's ``session_id`` and the thread's ``conversation_uuid``.
"""

from __future__ import annotations

from typing import Any

from .aipkit_events import done_event, named_event, quota_error
from .errors import (
    AnswerFormatError,
    CacheMissError,
    EmbedNotAvailableError,
    ModelFailedError,
    NonceRejectedError,
    ProviderFailedError,
    ResponseError,
    SiteRefusedError,
    StreamInterruptedError,
    TokenLimitError,
)
from .images import image_inputs
from .jsontext import clean, loads
from .models import (
    AnswerHead,
    ChatBox,
    Conversation,
    FollowUp,
    HttpRequest,
    NewNonce,
    Notice,
    Outcome,
    Prompt,
    Stamp,
    Text,
)
from .parse import ChatProtocol, StreamProgress, leftover_error, load_json
from .sse import SseEvent

CACHE_ACTION = "aipkit_cache_sse_message"
STREAM_ACTION = "aipkit_frontend_chat_stream"
NONCE_ACTION = "aipkit_get_frontend_chat_nonce"
_NONCE_HINTS = ("nonce", "session has expired", "security check failed")
_CACHE_HINTS = ("cache key is missing", "not found in cache", "cached message has expired")


def build_request(prompt: Prompt, box: ChatBox, conversation: Conversation, endpoint: str,
                  stamp: Stamp, site_url: str) -> HttpRequest:
    """Payload stage: the cache POST (fields in the order the site's script sends them).

    A conversation the server does not hold yet gets the caller's earlier
    turns inside the message, as the seed formats a prompt, so none is lost;
    the system prompt goes with that first message only (the site replays it).
    """
    bot_id = box.bot_number
    first = prompt.inline_text if prompt.turns else prompt.text
    message = prompt.message if conversation.server_turns else first  # the system prompt went with the first
    return HttpRequest(
        method="POST",
        url=endpoint,
        purpose="cache",
        form=(
            ("action", CACHE_ACTION),
            ("message", message),
            ("_ajax_nonce", box.nonce.value),
            ("bot_id", bot_id),
            *((("image_inputs", image_inputs(prompt.images)),) if prompt.images else ()),
            ("user_client_message_id", f"aipkit-client-msg-{bot_id}-{stamp.now_ms}-{stamp.token}"),
        ),
        encoding="multipart",
    )


def follow_up(step: FollowUp, box: ChatBox, conversation: Conversation, endpoint: str,
              stamp: Stamp) -> HttpRequest:
    """Payload stage: the stream GET for a cached message, as the site's EventSource opens it."""
    query = [
        ("action", STREAM_ACTION),
        ("cache_key", step.cache_key),
        ("bot_id", box.bot_number),
        ("session_id", conversation.session_id),
        ("conversation_uuid", conversation.conversation_uuid),
    ]
    if box.post_id.value.isdigit() and int(box.post_id.value) > 0:
        query.append(("post_id", box.post_id.value))
    query.append(("_ts", str(stamp.now_ms)))
    if box.conversation_state and conversation.previous_response_id:  # as the site's script does (§5.1)
        query.append(("previous_openai_response_id", conversation.previous_response_id))
    query.append(("_ajax_nonce", box.nonce.value))
    return HttpRequest(
        method="GET",
        url=endpoint,
        purpose="stream",
        query=tuple(query),
        headers=(("accept", "text/event-stream"), ("cache-control", "no-cache")),
    )


def refresh_nonce(box: ChatBox, endpoint: str) -> HttpRequest:
    """Payload stage: ask for a fresh nonce, as the site's script does after a nonce failure."""
    return HttpRequest(
        method="POST", url=endpoint, purpose="nonce",
        form=(("action", NONCE_ACTION), ("bot_id", box.bot_number)), encoding="multipart",
    )


def error_for(message: str, *, status: int | None = None, body: bytes | str = b"",
              code: str = "") -> ResponseError:
    """The typed error for an AIPKit error message or code (PROTOCOL-aipkit.md §6)."""
    lowered = message.lower()
    if code.startswith("nonce_failure") or any(hint in lowered for hint in _NONCE_HINTS):
        return NonceRejectedError(f"the site rejected the nonce: {message}", status=status, body=body)
    if code == "embed_not_available":
        return EmbedNotAvailableError(
            "the site refuses requests from another origin (embed_not_available): send the site's own Origin",
            status=status, body=body,
        )
    if any(hint in lowered for hint in _CACHE_HINTS):
        return CacheMissError(f"the cached message is gone: {message}", status=status, body=body)
    if "token limit" in lowered:
        return TokenLimitError(message, status=status, body=body)
    return SiteRefusedError(f"the site refused: {message}", status=status, body=body)


def _interpret(purpose: str, head: AnswerHead, answer: Any, body: bytes) -> tuple[Outcome, ...]:
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(answer, dict) or "success" not in answer or not isinstance(data, dict):
        if head.status != 200:
            raise leftover_error(head, body)
        raise AnswerFormatError("the answer has no success/data this protocol knows", status=head.status, body=body)
    if answer["success"] is not True:
        raise error_for(str(data.get("message") or "no reason given"), status=head.status, body=body,
                        code=str(data.get("code") or ""))
    if purpose == "nonce" and isinstance(data.get("nonce"), str) and data["nonce"]:
        return (NewNonce(data["nonce"]),)
    if purpose == "cache" and isinstance(data.get("cache_key"), str) and data["cache_key"]:
        return (FollowUp(data["cache_key"]),)
    raise AnswerFormatError(f"the {purpose} answer lacks its value", status=head.status, body=body)


def on_body(purpose: str, head: AnswerHead, body: bytes) -> tuple[Outcome, ...]:
    return _interpret(purpose, head, load_json(head, body), body)


def _event_json(event: SseEvent) -> Any:
    try:
        return loads(event.data)
    except ValueError:
        raise AnswerFormatError(f"the data of a {event.event!r} event is not JSON", body=event.data) from None


def on_event(progress: StreamProgress, event: SseEvent) -> tuple[StreamProgress, tuple[Outcome, ...]]:
    """One event of the chat stream (PROTOCOL-aipkit.md §3)."""
    name = event.event
    if name == "message":
        payload = _event_json(event)
        delta = payload.get("delta") if isinstance(payload, dict) else None
        if isinstance(delta, str):
            if not delta:
                return progress, ()
            settled = progress if progress.settled else StreamProgress(progress.started, progress.ended,
                                                                       progress.held, True)
            return settled, (Text(clean(delta)),)  # settled: text has arrived
        return progress, (Notice("data", event.data[:200]),)
    if name == "message_start":
        return StreamProgress(started=True, ended=progress.ended), (Notice(name, event.data[:200]),)
    if name == "done":
        return StreamProgress(started=progress.started, ended=True), done_event(event.data)
    if name in ("error", "warning"):
        payload = _event_json(event)
        message = str(payload.get("error") or payload.get("message") or event.data) \
            if isinstance(payload, dict) else event.data
        if name == "warning":
            return progress, (Notice("warning", message),)
        quota = quota_error(payload, event.data)
        if quota is not None:
            raise quota
        if progress.started:
            raise ProviderFailedError(f"the site's model failed mid-answer: {message}", body=event.data)
        raise error_for(message, body=event.data)
    if name in ("citations", "openai_response_id"):
        return progress, named_event(name, _event_json(event), event.data)
    return progress, (Notice(name, event.data[:200]),)


def on_end(progress: StreamProgress) -> tuple[Outcome, ...]:
    if not progress.ended and not progress.started and not progress.settled:
        raise ModelFailedError("the site's model failed: the answer stream ended empty, with no error event "
                               "(the site owner's AI key, quota or provider)")
    if not progress.ended:
        raise StreamInterruptedError("the stream ended without its done event")
    return ()


AIPKIT = ChatProtocol(
    name="aipkit",
    build_request=build_request,
    follow_up=follow_up,
    refresh_nonce=refresh_nonce,
    on_body=on_body,
    on_event=on_event,
    on_end=on_end,
)
