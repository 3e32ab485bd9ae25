"""The site owner's REST API of the real 2.4.71 plugin (``/wp-json/aipkit/v1/chat/{bot}/message``), switched on
with ``setup/set.php rest-enable KEY`` for each test and back off after: the whole conversation reaches the model
exactly as given, the reply is one chunk, every refusal is typed and not retried, and the key is never shown."""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Iterator
from contextlib import nullcontext
from typing import Any

import pytest

import pipeline
from chatgpt_es.runtime.logs import configure_logging
from real_plugin.calls import cli, provider_for, run
from real_plugin.expectations import REST_MODEL_STREAMS, REST_UNKNOWN_BOT_STATUS, echo
from real_plugin.stand import INLINE_BOT, PAGE, Stand, chat_messages
from stages.errors import (
    ChatGptEsError,
    ImagesNotSupportedError,
    InvalidArgumentError,
    RestApiDisabledError,
    RestBotUnknownError,
    SiteKeyRejectedError,
)

pytestmark = pytest.mark.real_plugin

KEY = "aipk_live_" + secrets.token_hex(24)  # the plugin's own shape: aipk_live_ + 48 lower-case hex
WRONG_KEY = KEY[:-1] + ("1" if KEY[-1] != "1" else "2")
URL = PAGE["2.4.71 inline"].url
PORT = PAGE["2.4.71 inline"].port
PLAIN_PAGE = "http://127.0.0.1:8082/plain/"
#: the inline bot's page, as WordPress reaches it with plain permalinks
PLAIN_PERMALINK_URL = "http://127.0.0.1:8082/?pagename=chatbot"
STAND_PERMALINKS = "/%postname%/"
#: quotes, backslashes, line breaks, tags, %25 and non-ASCII: the REST route forwards them untouched
CONVERSATION = [
    {"role": "user", "content": 'She said "hi" <b>bold</b> 100%25 C:\\temp\\new\nline two Ünïcödé 日本語'},
    {"role": "assistant", "content": "Noted \\o/ \"quoted\" <i>x</i>\r\n```\nprint('hi')\n```"},
    {"role": "user", "content": "And now? %41 ✓ <script>alert(1)</script> 'single' — ¿sí?"},
]
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAA"
                                                   "D91JpzAAAAEElEQVR42mP4z8AARAwQCgAf7gP9Y167WwAAAABJRU5ErkJggg=="}}


def route(bot: int | str) -> str:
    return f"POST /wp-json/aipkit/v1/chat/{bot}/message"


@pytest.fixture(scope="module")
def rest_on(stand: Stand) -> Iterator[Stand]:
    """The REST API on with KEY for this module; as it was before afterwards (each set.php call takes ~0.5 s)."""
    with stand.rest_api(KEY):
        yield stand


async def ask_rest(messages: list[dict[str, Any]], trace: pipeline.Trace | None = None, url: str = URL,
                   **kwargs: Any) -> list[str]:
    async with pipeline.Client() as client:  # the default policy: 4 attempts for transient failures
        return [chunk async for chunk in provider_for(url).create_async_generator(
            "gpt-4o", messages, system_prompt="", client=client, trace=trace, **kwargs)]


@pytest.mark.parametrize("bot", [None, INLINE_BOT], ids=["page's bot", "bot_id"])
def test_the_whole_conversation_reaches_the_model_exactly_as_given(rest_on: Stand, bot: int | None) -> None:
    mark, served = rest_on.model_mark(), rest_on.access_mark(PORT)
    chunks = run(ask_rest(CONVERSATION, api_key=KEY, bot_id=bot))

    [request] = rest_on.model_requests_since(mark)
    received = chat_messages(request)
    assert received[0][0] == "system"  # the bot's instructions, then every turn: roles and text as given
    assert received[1:] == [(m["role"], m["content"]) for m in CONVERSATION]
    assert ("stream" in request["body"]) == REST_MODEL_STREAMS
    assert chunks == [echo(CONVERSATION[-1]["content"], [role for role, _ in received])]  # one chunk
    assert rest_on.served_since(PORT, served, route(INLINE_BOT)) == 1
    assert rest_on.served_since(PORT, served, "POST /wp-admin/admin-ajax.php") == 0


def test_a_chat_with_the_key_sends_the_whole_conversation_each_turn(rest_on: Stand) -> None:
    async def body() -> list[str]:
        async with pipeline.Client() as client:
            chat = pipeline.Chat(client, pipeline.Site(url=URL, system_prompt=""), api_key=KEY)
            return [await chat.say(CONVERSATION[0]["content"]), await chat.say(CONVERSATION[2]["content"])]

    mark = rest_on.model_mark()
    first, second = run(body())
    requests = rest_on.model_requests_since(mark)
    assert len(requests) == 2
    said = [("user", CONVERSATION[0]["content"]), ("assistant", first), ("user", CONVERSATION[2]["content"])]
    assert chat_messages(requests[0])[1:] == said[:1]
    assert chat_messages(requests[1])[1:] == said  # the server keeps nothing: the client sent it all
    assert second == echo(said[-1][1], ["system", "user", "assistant", "user"])


@pytest.fixture
def plain_permalinks(rest_on: Stand) -> Iterator[Stand]:
    """Plain permalinks (as Settings › Permalinks saves them): ``/wp-json/`` is no longer routed, pages advertise
    ``?rest_route=/``; the stand's ``/%postname%/`` afterwards."""
    rest_on.wp24("permalinks", "")
    try:
        yield rest_on
    finally:
        rest_on.wp24("permalinks", STAND_PERMALINKS)


def test_plain_permalinks_the_key_goes_to_the_rest_route_the_page_advertises(plain_permalinks: Stand) -> None:
    served, trace = plain_permalinks.access_mark(PORT), pipeline.Trace()
    chunks = run(ask_rest(CONVERSATION[-1:], trace, api_key=KEY, url=PLAIN_PERMALINK_URL))
    assert chunks == [echo(CONVERSATION[-1]["content"], ["system", "user"])]
    rest_route = f"POST /index.php?rest_route=/aipkit/v1/chat/{INLINE_BOT}/message"
    assert plain_permalinks.served_since(PORT, served, rest_route) == 1


def test_a_page_without_a_chat_box_needs_the_bot_id(rest_on: Stand) -> None:
    """The REST API needs no chat box, only a bot id: without one, nothing is sent."""
    served = rest_on.access_mark(PORT)
    assert run(ask_rest(CONVERSATION[-1:], api_key=KEY, bot_id=INLINE_BOT, url=PLAIN_PAGE)) == [
        echo(CONVERSATION[-1]["content"], ["system", "user"])]
    with pytest.raises(InvalidArgumentError, match="bot_id"):
        run(ask_rest(CONVERSATION[-1:], api_key=KEY, url=PLAIN_PAGE))
    assert rest_on.served_since(PORT, served, "POST ") == 1


def test_the_command_line_site_key(rest_on: Stand) -> None:
    served = rest_on.access_mark(PORT)
    done = cli("ask", "Hola, ¿qué tal? <b>\"bien\"</b>", "--url", URL, "--system", "", "--site-key", KEY)
    assert (done.returncode, done.stdout, done.stderr) == (
        0, echo('Hola, ¿qué tal? <b>"bien"</b>', ["system", "user"]) + "\n", "")
    assert rest_on.served_since(PORT, served, route(INLINE_BOT)) == 1
    done = cli("ask", "Hola", "--url", URL, "--system", "", "--site-key", WRONG_KEY)
    assert done.returncode != 0 and done.stdout == ""
    assert "SiteKeyRejectedError" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert KEY[:-1] not in done.stderr


@pytest.mark.parametrize(("enabled", "key", "bot", "error", "status"), [
    (True, WRONG_KEY, None, SiteKeyRejectedError, 401),
    (False, KEY, None, RestApiDisabledError, 403),
    (True, KEY, 999999, RestBotUnknownError, REST_UNKNOWN_BOT_STATUS),
], ids=["wrong key", "API disabled", "unknown bot"])
def test_each_refusal_is_typed_sent_once_and_never_shows_the_key(rest_on: Stand, enabled: bool, key: str,
                                                                 bot: int | None, error: type[ChatGptEsError],
                                                                 status: int) -> None:
    stand = rest_on
    mark, served = stand.model_mark(), stand.access_mark(PORT)
    trace = pipeline.Trace()
    with stand.rest_api(KEY, enabled=False) if not enabled else nullcontext(), pytest.raises(ChatGptEsError) as caught:
        run(ask_rest(CONVERSATION[-1:], trace, api_key=key, bot_id=bot))

    assert type(caught.value) is error and getattr(caught.value, "status", None) == status
    assert not caught.value.transient and "\n" not in str(caught.value)
    assert stand.served_since(PORT, served, route(bot or INLINE_BOT)) == 1  # not retried
    assert stand.model_requests_since(mark) == []
    shown = [str(caught.value), repr(caught.value)] + [str(r.facts()) + repr(r.output) for r in trace.records]
    assert not [text for text in shown if KEY[:-1] in text]


def test_the_key_is_in_no_log_line_or_trace_of_an_answer(rest_on: Stand) -> None:
    stream = io.StringIO()
    configure_logging(logging.DEBUG, json_lines=True, stream=stream)
    trace = pipeline.Trace()
    try:
        chunks = run(ask_rest(CONVERSATION, trace, api_key=KEY))
    finally:
        configure_logging(logging.WARNING, stream=io.StringIO())
    assert chunks and len(trace.records) >= 6 and stream.getvalue()
    shown = [stream.getvalue()] + [str(r.facts()) + repr(r.output) for r in trace.records]
    assert not [text for text in shown if KEY in text]
    payload = next(r.output for r in trace.records if r.stage == "payload")
    assert KEY not in payload.url and ("authorization", f"Bearer {KEY}") in payload.headers  # sent, never shown


def test_images_through_the_rest_api_are_refused_before_any_request(rest_on: Stand) -> None:
    served = rest_on.access_mark(PORT)
    with pytest.raises(ImagesNotSupportedError):
        run(ask_rest([{"role": "user", "content": [{"type": "text", "text": "What is this?"}, IMAGE]}],
                     api_key=KEY))
    assert rest_on.served_since(PORT, served, "POST ") == 0
