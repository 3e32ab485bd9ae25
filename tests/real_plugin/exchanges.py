"""The exchanges sent both to the local site (``chatgpt_es.emulator``) and to the real plugin: the same
requests as the plugin's own scripts make, with each site's own nonce, post id and bot id read from its page."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from urllib.parse import urlencode

import attrs
from conftest import Answer, http

import stages
from chatgpt_es.emulator import EmulatorConfig
from stages.legacy import chatbot_identity
from stages.models import ChatBox

AJAX = "/wp-admin/admin-ajax.php"
HISTORY = json.dumps(["Human: My name is Ana.", "AI: Echo: My name is Ana."])


@attrs.frozen
class Target:
    """One site as a browser sees it after loading the chat page."""

    base_url: str
    page_url: str
    box: ChatBox

    @classmethod
    def load(cls, base_url: str, page_url: str) -> Target:
        return cls(base_url, page_url, stages.extract_chatbox(http("GET", page_url).text))

    @property
    def ajax(self) -> str:
        return self.base_url + AJAX

    @property
    def nonce(self) -> str:
        return self.box.nonce.value


# -- legacy (wpaicg) ---------------------------------------------------------------------------------


def legacy_form(target: Target, message: str, *, nonce: str | None = None, history: str = "[]") -> dict[str, str]:
    """A new visitor's message (a fresh client id: the custom bot's log row is created, on both sites)."""
    action, bot_id, identity = chatbot_identity(target.box)
    return {"_wpnonce": target.nonce if nonce is None else nonce, "post_id": target.box.post_id.value,
            "url": target.page_url, "action": action, "message": message, "bot_id": bot_id,
            "chatbot_identity": identity, "wpaicg_chat_history": history, "wpaicg_chat_client_id": secrets.token_hex(5)}


def legacy_message(target: Target) -> Answer:
    return http("POST", target.ajax, form=legacy_form(target, "Hello there"))


def legacy_with_history(target: Target) -> Answer:
    return http("POST", target.ajax, form=legacy_form(target, "What is my name?", history=HISTORY))


def legacy_empty(target: Target) -> Answer:
    return http("POST", target.ajax, form=legacy_form(target, ""))


def legacy_bad_nonce(target: Target) -> Answer:
    return http("POST", target.ajax, form=legacy_form(target, "Hello", nonce="0123456789"))


def unknown_action(target: Target) -> Answer:
    return http("POST", target.ajax, form={"action": "no_such_action"})


def page(target: Target) -> Answer:
    return http("GET", target.page_url)


# -- AIPKit ------------------------------------------------------------------------------------------


@attrs.frozen
class Visitor:
    """A browser's AIPKit identity: its guest session and conversation thread."""

    session_id: str = attrs.Factory(lambda: str(uuid.uuid4()))
    conversation_uuid: str = attrs.Factory(lambda: str(uuid.uuid4()))


def cache(target: Target, message: str, nonce: str | None = None) -> Answer:
    bot = target.box.bot_number
    form = {"action": "aipkit_cache_sse_message", "message": message,
            "_ajax_nonce": target.nonce if nonce is None else nonce, "bot_id": bot,
            "user_client_message_id": f"aipkit-client-msg-{bot}-1796120000000-abcde"}
    return http("POST", target.ajax, form=form, as_multipart=True)


def stream(target: Target, cache_key: str, visitor: Visitor, nonce: str | None = None) -> Answer:
    query = {"action": "aipkit_frontend_chat_stream", "cache_key": cache_key, "bot_id": target.box.bot_number,
             "session_id": visitor.session_id, "conversation_uuid": visitor.conversation_uuid,
             "post_id": target.box.post_id.value, "_ts": "1796120000000",
             "_ajax_nonce": target.nonce if nonce is None else nonce}
    return http("GET", target.ajax + "?" + urlencode(query), headers={"Accept": "text/event-stream"})


def cached_key(target: Target, message: str) -> str:
    key: str = cache(target, message).json()["data"]["cache_key"]
    return key


def aipkit_cache(target: Target) -> Answer:
    return cache(target, "Hello there")


def aipkit_stream(target: Target) -> Answer:
    return stream(target, cached_key(target, "Hello there"), Visitor())


def aipkit_second_turn(target: Target) -> Answer:
    visitor = Visitor()
    stream(target, cached_key(target, "My name is Ana."), visitor)
    return stream(target, cached_key(target, "What is my name?"), visitor)


def aipkit_history(target: Target) -> Answer:
    visitor = Visitor()
    stream(target, cached_key(target, "My name is Ana."), visitor)
    stream(target, cached_key(target, "What is my name?"), visitor)
    form = {"action": "aipkit_get_conversation_history", "_ajax_nonce": target.nonce,
            "bot_id": target.box.bot_number, "session_id": visitor.session_id,
            "conversation_uuid": visitor.conversation_uuid}
    return http("POST", target.ajax, form=form, as_multipart=True)


def aipkit_cache_bad_nonce(target: Target) -> Answer:
    return cache(target, "Hello", nonce="0123456789")


def aipkit_cache_empty(target: Target) -> Answer:
    return cache(target, "")


def aipkit_stream_bad_nonce(target: Target) -> Answer:
    return stream(target, cached_key(target, "Hello"), Visitor(), nonce="0123456789")


def aipkit_stream_cache_miss(target: Target) -> Answer:
    return stream(target, "aipkit_sse_" + "x" * 32, Visitor())


def aipkit_nonce(target: Target) -> Answer:
    form = {"action": "aipkit_get_frontend_chat_nonce", "bot_id": target.box.bot_number}
    return http("POST", target.ajax, form=form, as_multipart=True)


@attrs.frozen
class Site:
    """A site of the stand and the local site configured to imitate it."""

    name: str
    real_page: str
    config: EmulatorConfig
    local_path: str = "/chat/"


SITES = {
    "json": Site("1.9.11 JSON", "http://127.0.0.1:8081/chat/", EmulatorConfig()),
    "stream": Site("1.9.11 stream", "http://127.0.0.1:8083/chat/", EmulatorConfig(stream=True)),
    "custom-bot": Site("1.9.11 custom bot", "http://127.0.0.1:8081/custom-bot/", EmulatorConfig(page="custom-bot")),
    "widget": Site("1.9.11 widget", "http://127.0.0.1:8084/widget/", EmulatorConfig(page="widget")),
    "aipkit": Site("2.4.71 inline", "http://127.0.0.1:8082/chatbot/", EmulatorConfig(generation="aipkit")),
}

Send = Callable[[Target], Answer]
#: (site key, exchange name, how to send it): the rows of the printed comparison
EXCHANGES: tuple[tuple[str, str, Send], ...] = (
    ("json", "page", page),
    ("json", "message", legacy_message),
    ("json", "message with history", legacy_with_history),
    ("json", "empty message", legacy_empty),
    ("json", "expired nonce", legacy_bad_nonce),
    ("json", "unknown action", unknown_action),
    ("stream", "page", page),
    ("stream", "message", legacy_message),
    ("stream", "message with history", legacy_with_history),
    ("stream", "empty message", legacy_empty),
    ("stream", "expired nonce", legacy_bad_nonce),
    ("custom-bot", "page", page),
    ("custom-bot", "message", legacy_message),
    ("widget", "page", page),
    ("widget", "message", legacy_message),
    ("aipkit", "page", page),
    ("aipkit", "cache message", aipkit_cache),
    ("aipkit", "stream", aipkit_stream),
    ("aipkit", "second turn stream", aipkit_second_turn),
    ("aipkit", "conversation history", aipkit_history),
    ("aipkit", "cache: bad nonce", aipkit_cache_bad_nonce),
    ("aipkit", "cache: empty message", aipkit_cache_empty),
    ("aipkit", "stream: bad nonce", aipkit_stream_bad_nonce),
    ("aipkit", "stream: unknown cache key", aipkit_stream_cache_miss),
    ("aipkit", "nonce refresh", aipkit_nonce),
    ("aipkit", "unknown action", unknown_action),
)
