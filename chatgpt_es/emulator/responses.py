"""AIPKit's OpenAI Responses-API mode and the events of a scripted upstream (PROTOCOL-aipkit-additions §5).

In Responses mode every answer has a ``status`` event (``response.created``) and an ``openai_response_id``
event, the latter before the last text as in capture 116 (only ``done`` ends a message).  Test triggers in
the message replay the scripted-upstream captures 121-131: ``[[citations]]`` (web search statuses and
citations), ``[[incomplete]]``, ``[[refusal]]``, ``[[content-filter]]`` (warnings), ``[[response-failed]]``
and ``[[empty-stream]]`` (an error and no ``done``).
"""

from __future__ import annotations

import secrets

import attrs

from chatgpt_es.emulator.php import json_encode
from chatgpt_es.emulator.wire import SseEvent, sse_event

WARNINGS = {
    "[[incomplete]]": " (Incomplete: max_output_tokens)",
    "[[refusal]]": " (Refusal: I can't help with that.)",
    "[[content-filter]]": " (Warning: Content Filtered)",
}
FAILED = " (Error: The model is overloaded.)"
EMPTY = "Connection error: no data received from AI."
CITATIONS = [{"type": "char_location", "url": "https://example.org/paris", "title": "Paris - Example Encyclopedia",
              "source_title": "Paris - Example Encyclopedia", "start_char_index": 0, "end_char_index": 31,
              "cited_text": "Paris is the capital of France."}]
DONE_WITH_CITATIONS = {"finished": True, "citations": CITATIONS}


@attrs.frozen
class Scripted:
    events: tuple[SseEvent, ...]
    outcome: str
    #: the answer ends with ``done`` and is stored in the conversation
    complete: bool = True
    response_id: str | None = None


def _event(name: str, value: object, event_id: str | None = None) -> SseEvent:
    return SseEvent(sse_event(json_encode(value, unescaped_unicode=True), name, event_id))


def scripted_events(message: str, deltas: list[SseEvent], responses_mode: bool, now: float) -> Scripted | None:
    """The events after ``message_start`` (with ``done`` when complete), or None for a plain answer."""
    err_id = f"err-{int(now)}"
    if "[[empty-stream]]" in message:
        return Scripted((_event("error", {"error": EMPTY}, err_id),), "empty_stream", complete=False)
    if "[[response-failed]]" in message:
        return Scripted((*deltas[:2], _event("error", {"error": FAILED}, err_id)), "response_failed", complete=False)
    for trigger, text in WARNINGS.items():
        if trigger in message:
            done = _event("done", {"finished": True})
            return Scripted((*deltas, _event("warning", {"error": text}, err_id), done), "warning")
    response_id = f"resp_{secrets.token_hex(8)}"
    created = _event("status", {"type": "response.created", "status": "in_progress", "response_id": response_id})
    if "[[citations]]" in message:
        searching = [_event("status", {"type": f"response.web_search_call.{step}", "item_id": "ws_01",
                                       "output_index": 0}) for step in ("in_progress", "searching", "completed")]
        cited = _event("citations", CITATIONS)
        events = (created, *searching, *deltas, cited, _event("openai_response_id", {"id": response_id}), cited,
                  _event("done", DONE_WITH_CITATIONS))
        return Scripted(events, "citations", response_id=response_id)
    if not responses_mode:
        return None
    events = (created, *deltas[:-1], _event("openai_response_id", {"id": response_id}), *deltas[-1:],
              _event("done", {"finished": True}))
    return Scripted(events, "stream", response_id=response_id)
