"""The site owner's REST API (AIPKit 2.x, ``POST aipkit/v1/chat/{bot_id}/message``), PROTOCOL-aipkit-additions §1.

A third protocol beside ``legacy`` and ``aipkit``, used when the caller has the site's key.  It is
stateless (the whole conversation goes with every message, each turn with its role and text as given)
and does not stream: the reply comes as one JSON object.  The key travels only as
``Authorization: Bearer …`` — never in a URL, and never in a trace, log or error (see ``HttpRequest.headers``).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

from .errors import (
    AnswerFormatError,
    ImagesNotSupportedError,
    InvalidArgumentError,
    ResponseError,
    RestApiDisabledError,
    RestApiError,
    RestBotUnknownError,
    RestMessagesRejectedError,
    SiteKeyRejectedError,
)
from .jsontext import loads
from .models import AnswerHead, ChatBox, Conversation, Headers, HttpRequest, Notice, Outcome, Prompt, Stamp, Text
from .parse import ChatProtocol, StreamProgress, leftover_error
from .redact import without_userinfo
from .sse import SseEvent

API_REL = "https://api.w.org/"
CHAT_ROUTE = "aipkit/v1/chat/{bot}/message"
NO_STREAM = "the REST API has no streaming: the reply arrives in one piece"
_LINK = re.compile(r"<([^>]{1,2000})>\s*((?:;[^,<]{0,500})*)")
_LINK_TAG = re.compile(r"""<link\b[^>]{0,500}?rel=["']https://api\.w\.org/["'][^>]{0,500}?>""", re.I)
_HREF = re.compile(r"""href=["']([^"']{1,2000})["']""", re.I)
_BOT_IN_URL = re.compile(r"chat/(\d+)/message")
_DISABLED = ("rest_aipkit_api_access_disabled", "rest_aipkit_no_api_key_configured")
_BAD_MESSAGES = ("rest_aipkit_invalid_messages", "rest_aipkit_invalid_last_message", "rest_invalid_param",
                 "rest_missing_callback_param", "rest_invalid_json")


def rest_root(headers: Headers, page: str, page_url: str) -> str | None:
    """The REST root a WordPress page advertises: its ``Link`` header, else its ``<link rel>`` tag."""
    for name, value in headers:
        if name.lower() != "link":
            continue
        for match in _LINK.finditer(value):
            if f'rel="{API_REL}"' in match.group(2) or f"rel={API_REL}" in match.group(2):
                return str(urllib.parse.urljoin(page_url, match.group(1).strip()))
    tag = _LINK_TAG.search(page[:200_000])
    href = _HREF.search(tag.group(0)) if tag else None
    return urllib.parse.urljoin(page_url, href.group(1).strip()) if href else None


def route_url(root: str, route: str) -> str:
    """``route`` under a REST root: ``…/wp-json/`` + route, or ``…?rest_route=/`` + route (plain permalinks)."""
    parts = urllib.parse.urlsplit(root)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "rest_route" for key, _ in query):
        query = [(k, v.rstrip("/") + "/" + route if k == "rest_route" else v) for k, v in query]
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query, safe="/")))
    return urllib.parse.urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + route))


def default_root(site_url: str) -> str:
    """Where the REST API is when the page names no root: the ``?rest_route=`` form works with any permalinks."""
    return urllib.parse.urljoin(without_userinfo(site_url), "/?rest_route=/")


def chat_url(box: ChatBox, site_url: str) -> str:
    """Where a REST message for ``box``'s bot goes: the chat route under the root the page advertised.

    The page names that root, so it passes the endpoint policy like any endpoint a page names
    (:meth:`chatgpt_es.runtime.client.Site.endpoint_decision`): the key never goes to another site.
    """
    return route_url(box.rest_root or default_root(site_url), CHAT_ROUTE.format(bot=box.bot_id))


def rest_messages(prompt: Prompt) -> list[dict[str, str]]:
    """The whole conversation, each turn as given; the system prompt goes once, before the first user turn."""
    turns = [(turn.role, turn.text) for turn in prompt.turns] + [("user", prompt.message)]
    messages = [{"role": role, "content": text} for role, text in turns]
    if prompt.system:
        first = next(m for m in messages if m["role"] == "user")
        first["content"] = f"{prompt.system} {first['content']}"
    return messages


def refuse_images(prompt: Prompt) -> None:
    """The REST API carries no images: :class:`ImagesNotSupportedError` when the message has some (the
    orchestrator asks before any request; the payload stage asks again, as it is its rule)."""
    if prompt.images:
        raise ImagesNotSupportedError("the site's REST API takes no images (only the chat box's own requests do)")


def build_request(prompt: Prompt, box: ChatBox, conversation: Conversation, endpoint: str,
                  stamp: Stamp, site_url: str) -> HttpRequest:
    """Payload stage: the chat POST with the whole conversation as ``messages``."""
    refuse_images(prompt)
    if not box.api_key:
        raise InvalidArgumentError("the REST API needs the site's key (api_key=)")
    if not (box.bot_id or "").isdigit() or box.bot_id == "0":
        raise InvalidArgumentError("the REST API needs a chatbot id: the page shows no AIPKit chat box; pass bot_id=")
    url = chat_url(box, site_url)
    body = json.dumps({"messages": rest_messages(prompt)}, ensure_ascii=False)
    return HttpRequest(
        method="POST", url=url, purpose="rest", encoding="json", json_body=body,
        headers=(("accept", "application/json"), ("authorization", f"Bearer {box.api_key}")),
    )


def _bot_of(url: str) -> str:
    match = _BOT_IN_URL.search(urllib.parse.unquote(url))
    return match.group(1) if match else "?"


def screen(head: AnswerHead, body: bytes) -> ResponseError | None:
    """Before the shared 5xx rule: the plugin's PHP fatal error for an unknown bot is not a passing failure."""
    if head.status != 500:
        return None
    answer = _json(body)
    if isinstance(answer, dict) and answer.get("code") == "internal_server_error":
        return RestBotUnknownError(
            f"the REST API failed with a PHP fatal error (500 internal_server_error): how the plugin (2.4.71) "
            f"answers when bot {_bot_of(head.url)} is no chatbot of the site", status=500, body=body,
            code="internal_server_error")
    return None


def _json(body: bytes) -> Any:
    try:
        return loads(body)
    except ValueError:
        return None


def _error(head: AnswerHead, answer: dict[str, Any], body: bytes) -> ResponseError:
    code = str(answer.get("code") or "")
    message = str(answer.get("message") or "no reason given")
    data = answer.get("data")
    params = data.get("params") if isinstance(data, dict) else None
    if isinstance(params, dict):
        message += " " + "; ".join(str(v) for v in params.values())
    status = head.status
    if status == 401 or code == "rest_aipkit_invalid_api_key":
        return SiteKeyRejectedError(f"the site rejected the site key ({code or status})", status=status, body=body,
                                    code=code)
    if code in _DISABLED:
        return RestApiDisabledError(f"the site's REST API is off: {message} ({code})", status=status, body=body,
                                    code=code)
    if code in _BAD_MESSAGES:
        return RestMessagesRejectedError(f"the REST API refused the messages: {message} ({code})", status=status,
                                         body=body, code=code)
    if code == "rest_aipkit_bot_not_found":
        return RestBotUnknownError(f"the REST API knows no chatbot {_bot_of(head.url)} ({code})", status=status,
                                   body=body, code=code)
    if code == "rest_no_route":
        return RestApiError("the site has no aipkit/v1 chat route (no AIPKit 2.x plugin, or another REST root)",
                            status=status, body=body, code=code)
    return RestApiError(f"the REST API refused: {message} ({code or status})", status=status, body=body, code=code)


def on_body(purpose: str, head: AnswerHead, body: bytes) -> tuple[Outcome, ...]:
    answer = _json(body)
    if not isinstance(answer, dict):
        if head.status != 200:
            raise leftover_error(head, body)
        raise AnswerFormatError("the REST answer is not a JSON object (is the REST root right?)",
                                status=head.status, body=body)
    if head.status != 200 or ("code" in answer and "reply" not in answer):
        raise _error(head, answer, body)
    reply = answer.get("reply")
    if not isinstance(reply, str):
        raise AnswerFormatError("the REST answer has no reply", status=head.status, body=body)
    model = answer.get("model")
    notices: tuple[Outcome, ...] = (Notice("rest", NO_STREAM + (f" (model {model})" if model else "")),)
    return notices + ((Text(reply),) if reply else ())


def on_event(progress: StreamProgress, event: SseEvent) -> tuple[StreamProgress, tuple[Outcome, ...]]:
    raise AnswerFormatError("the REST API answered with an event stream, which it never does", body=event.data)


def on_end(progress: StreamProgress) -> tuple[Outcome, ...]:
    return ()


REST = ChatProtocol(
    name="rest",
    build_request=build_request,
    follow_up=None,
    refresh_nonce=None,
    on_body=on_body,
    on_event=on_event,
    on_end=on_end,
    screen=screen,
)
