"""The README's errors-and-retries table, row by row: what is sent again, how often, and what is never repeated."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from conftest import StartEmulator
from e2e_helpers import AJAX, FAST_RETRY, collect, new_client, run, serve_app, site_of, user

import pipeline
from chatgpt_es.emulator import Emulator
from stages.errors import (
    ChatGptEsError,
    ModelFailedError,
    NonceRejectedError,
    ServerError,
    SiteRefusedError,
)

FOUR_FAST = pipeline.RetryPolicy(attempts=4, wait_initial=0.01, wait_max=0.05, wait_jitter=0.01)
#: a legacy page with a chat box whose nonce the scripted sites below accept
CHAT_PAGE = ('<html><body><div class="wpaicg-chat-shortcode" data-nonce="abc123def0" data-post-id="7" '
             'data-url="http://127.0.0.1/" data-type="shortcode"></div></body></html>')


class Scripted:
    """A site that serves CHAT_PAGE and answers each chat POST with ``reply(n)`` (n = 1, 2, …); counts them."""

    def __init__(self, reply: Callable[[int], web.StreamResponse]) -> None:
        self.reply = reply
        self.posts = 0
        self.gets = 0

    def app(self) -> web.Application:
        async def page(_request: web.Request) -> web.Response:
            self.gets += 1
            return web.Response(text=CHAT_PAGE, content_type="text/html")

        async def ajax(_request: web.Request) -> web.StreamResponse:
            self.posts += 1
            return self.reply(self.posts)

        app = web.Application()
        app.router.add_get("/", page)
        app.router.add_post(AJAX, ajax)
        return app


@pytest.fixture
def scripted() -> Iterator[Callable[[Callable[[int], web.StreamResponse]], tuple[Scripted, str]]]:
    with contextlib.ExitStack() as stack:
        def start(reply: Callable[[int], web.StreamResponse]) -> tuple[Scripted, str]:
            site = Scripted(reply)
            return site, stack.enter_context(serve_app(site.app()))
        yield start


def error_from(base: str, message: str = "Hello", retry: pipeline.RetryPolicy = FOUR_FAST,
               received: list[str] | None = None) -> ChatGptEsError:
    async def body() -> None:
        async with new_client(retry=retry) as client:
            site = pipeline.Site(url=base + "/", system_prompt="")
            async for chunk in pipeline.ask(client, site, user(message)):
                (received if received is not None else []).append(chunk)

    with pytest.raises(ChatGptEsError) as caught:
        run(body())
    return caught.value


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, Any]]:
    found = []
    for record in caplog.records:
        try:
            event = json.loads(record.getMessage())
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == name:
            found.append(event)
    return found


def _json(body: object, status: int = 200) -> Callable[[int], web.StreamResponse]:
    return lambda _n: web.Response(status=status, text=json.dumps(body), content_type="application/json")


def _text(status: int, text: str, **headers: str) -> Callable[[int], web.StreamResponse]:
    return lambda _n: web.Response(status=status, text=text, content_type="text/html", headers=headers)


#: the README's table, for the rows a scripted legacy site can answer: (reply, error, sends with 4 attempts)
POLICY = [
    pytest.param(_text(503, "busy"), "ServerError", 4, id="503-retried"),
    pytest.param(_text(502, "<html>502 Bad Gateway</html>"), "ServerError", 4, id="502-retried"),
    pytest.param(_text(501, "Unsupported method"), "ServerError", 1, id="501-permanent"),
    pytest.param(_text(404, "Not Found"), "BadStatusError", 1, id="404-permanent"),
    pytest.param(_text(400, "0"), "UnknownActionError", 1, id="unknown-action-permanent"),
    pytest.param(_text(429, "slow down", **{"Retry-After": "0"}), "RateLimitedError", 4, id="429-retried"),
    pytest.param(_text(403, "Just a moment...", **{"cf-mitigated": "challenge"}), "CloudflareChallengeError", 1,
                 id="cloudflare-permanent"),
    pytest.param(_text(200, '{"status": "succ'), "AnswerFormatError", 4, id="cut-json-retried"),
    pytest.param(_json({"status": "success", "data": "Du musst das Kästchen anklicken!"}), "ConsentRequiredError",
                 1, id="consent-permanent"),
    pytest.param(_json({"msg": "limit", "tokenLimitReached": True}), "TokenLimitError", 1, id="token-limit-permanent"),
    pytest.param(_json({"status": "error", "msg": "no"}), "SiteRefusedError", 1, id="refusal-permanent"),
]


@pytest.mark.parametrize(("reply", "kind", "sends"), POLICY)
def test_the_policy_table(scripted: Any, reply: Callable[[int], web.StreamResponse], kind: str, sends: int) -> None:
    site, base = scripted(reply)
    error = error_from(base)
    assert type(error).__name__ == kind
    assert site.posts == sends and error.transient is (sends > 1)


def test_501_is_permanent_sent_once(scripted: Any) -> None:
    site, base = scripted(lambda _n: web.Response(status=501, text="Unsupported method ('POST')"))
    error = error_from(base)
    assert type(error) is ServerError and error.status == 501 and error.transient is False
    assert site.posts == 1


def test_503_is_retried_up_to_the_attempts_and_the_log_counts_right(scripted: Any,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="chatgpt_es")
    site, base = scripted(lambda _n: web.Response(status=503, text="busy"))
    error = error_from(base)
    assert type(error) is ServerError and error.transient is True
    assert site.posts == 4
    retries = events(caplog, "retry")
    assert [(e["attempt"], e["attempts"]) for e in retries] == [(2, 4), (3, 4), (4, 4)]  # never after the last
    assert [e["reason"] for e in events(caplog, "giving_up")] == ["4 attempts made"]


def test_one_attempt_means_one_send_and_no_retry_log(scripted: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="chatgpt_es")
    site, base = scripted(lambda _n: web.Response(status=503, text="busy"))
    error_from(base, retry=pipeline.RetryPolicy(attempts=1))
    assert site.posts == 1 and events(caplog, "retry") == []


def test_a_transient_failure_then_success_is_answered(scripted: Any) -> None:
    ok = json.dumps({"status": "success", "data": "Echo: Hello"})
    site, base = scripted(lambda n: web.Response(status=502, text="bad gateway") if n == 1
                          else web.Response(text=ok, content_type="application/json"))

    async def body() -> str:
        async with new_client(retry=FOUR_FAST) as client:
            site_ = pipeline.Site(url=base + "/", system_prompt="")
            return "".join(await collect(pipeline.ask(client, site_, user("Hello"))))

    assert run(body()) == "Echo: Hello"
    assert site.posts == 2


def test_an_empty_stream_is_the_sites_model_failing_sent_twice_in_all(start_emulator: StartEmulator,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="chatgpt_es")
    emu = start_emulator(stream=True)
    error = error_from(emu.base_url, "[[model-down]] Hello")
    assert type(error) is ModelFailedError and isinstance(error, SiteRefusedError)
    assert "model failed" in str(error) and "empty" in str(error)
    counts = emu.counters.snapshot()
    assert counts["by_outcome"].get("model_down") == 2 and counts["post"] == 2  # not 4: each may cost a model call
    assert [(e["attempt"], e["attempts"]) for e in events(caplog, "retry")] == [(2, 2)]


def test_an_empty_aipkit_stream_is_the_sites_model_failing_too(aipkit_site: Emulator) -> None:
    error = error_from(aipkit_site.base_url, "[[model-down]] Hello")
    assert type(error) is ModelFailedError
    by_action = aipkit_site.counters.snapshot()["by_action"]
    assert by_action.get("aipkit_frontend_chat_stream") == 2 and by_action.get("aipkit_cache_sse_message") == 2


def test_an_empty_stream_from_a_scripted_site_too(scripted: Any) -> None:
    site, base = scripted(lambda _n: web.Response(body=b"", content_type="text/event-stream"))
    error = error_from(base)
    assert type(error) is ModelFailedError and site.posts == 2


def test_text_then_a_nonce_refusal_is_never_sent_again(aipkit_site: Emulator) -> None:
    received: list[str] = []

    async def body() -> None:
        async with new_client(aipkit_site, retry=FOUR_FAST) as client:
            async for chunk in pipeline.ask(client, site_of(aipkit_site), user("[[nonce-after-text]] Hi")):
                received.append(chunk)

    with pytest.raises(NonceRejectedError) as caught:
        run(body())
    assert received == ["Echo", ":"]  # once: no renewed nonce, no second send
    assert caught.value.partial_text == "Echo:"
    by_action = aipkit_site.counters.snapshot()["by_action"]
    assert by_action.get("aipkit_cache_sse_message") == 1 and by_action.get("aipkit_frontend_chat_stream") == 1
    assert not by_action.get("aipkit_get_frontend_chat_nonce")


def test_text_then_a_cut_stream_carries_the_text_and_is_not_resent(scripted: Any) -> None:
    chunk = json.dumps({"choices": [{"delta": {"content": "Hello "}}]})
    site, base = scripted(lambda _n: web.Response(body=f"data: {chunk}\n\n".encode(), content_type="text/event-stream"))
    received: list[str] = []
    error = error_from(base, received=received)
    assert received == ["Hello "] and error.partial_text == "Hello " and site.posts == 1


def test_a_refused_nonce_without_text_is_renewed_once(start_emulator: StartEmulator) -> None:
    emu = start_emulator(fault_rate=1.0, faults=("nonce",))
    error = error_from(emu.base_url, retry=FAST_RETRY)
    assert type(error) is NonceRejectedError
    counts = emu.counters.snapshot()
    assert (counts["get"], counts["post"]) == (2, 2)  # the page again for a fresh nonce, one more send, no retries


def test_the_error_text_is_plain_text(scripted: Any) -> None:
    body = json.dumps({"status": "error", "msg": "Couldn&#039;t connect &amp; retry"})
    _site, base = scripted(lambda _n: web.Response(text=body, content_type="application/json"))
    error = error_from(base)
    assert type(error) is SiteRefusedError
    assert "Couldn't connect & retry" in str(error) and "&#039;" not in str(error) and "&amp;" not in str(error)
