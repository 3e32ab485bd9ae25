"""The site owner's REST API end to end against the local AIPKit site: the whole conversation as given,
one reply, the REST root as the page advertises it, every error typed, and the key nowhere it should not be."""

from __future__ import annotations

import io
import logging
import os
import subprocess
from typing import Any

import pytest
from cli_helpers import COMMAND, cli, cli_env, site_args
from conftest import StartEmulator
from e2e_helpers import FAST_RETRY, collect, new_client, provider_for, run

import pipeline
from chatgpt_es.emulator import Emulator
from chatgpt_es.runtime.logs import configure_logging
from stages.boxes import choose_box
from stages.errors import (
    BadStatusError,
    ChatGptEsError,
    InvalidArgumentError,
    InvalidMessagesError,
    RestApiDisabledError,
    RestBotUnknownError,
    RestMessagesRejectedError,
    SiteKeyRejectedError,
)
from stages.extract import extract_chatbox
from stages.pagefacts import fallback_refused
from stages.rest import route_url

KEY = "aipk_live_c2a7e3b19f04d6a58e2c71b0d39f4e6a15c8b72d09e3f6a4"
CONVERSATION = [
    {"role": "user", "content": 'My name is "Ada" <b>\\o/</b>\n%41 100%'},
    {"role": "assistant", "content": "Nice to meet you, Ada.\n```\nprint('hi')\n```"},
    {"role": "user", "content": "What is my name?"},
]


def rest_site(start_emulator: StartEmulator, **config: Any) -> Emulator:
    return start_emulator(generation="aipkit", rest_key=KEY, **config)


def answer(emu: Emulator, messages: Any, trace: pipeline.Trace | None = None, **kwargs: Any) -> list[str]:
    async def body() -> list[str]:
        async with new_client(emu, retry=kwargs.pop("retry", pipeline.RetryPolicy(attempts=1))) as client:
            return await collect(provider_for(emu).create_async_generator(
                "gpt-4o", messages, client=client, system_prompt="", trace=trace, **kwargs))

    return run(body())


def failure(emu: Emulator, messages: Any, **kwargs: Any) -> ChatGptEsError:
    with pytest.raises(ChatGptEsError) as caught:
        answer(emu, messages, **kwargs)
    return caught.value


def test_the_whole_conversation_goes_as_given_and_the_reply_is_one_chunk(start_emulator: StartEmulator) -> None:
    emu = rest_site(start_emulator)
    trace = pipeline.Trace()
    assert answer(emu, CONVERSATION, trace, api_key=KEY) == [
        "Echo: What is my name? [4 msgs: system,user,assistant,user]"]
    assert emu.last_rest[1:] == CONVERSATION  # roles and text exactly as given: no look-alikes, no joining
    counts = emu.counters.snapshot()
    assert counts["by_outcome"] == {"page": 1, "rest_reply": 1} and counts["by_action"] == {}
    [parse] = [r for r in trace.records if r.stage == "parse"]
    assert any("no streaming" in notice for notice in parse.output.notices)
    [payload] = [r for r in trace.records if r.stage == "payload"]
    assert payload.output.url == f"{emu.base_url}/wp-json/aipkit/v1/chat/5/message"


def test_a_chat_through_the_rest_api_sends_every_turn_each_time(start_emulator: StartEmulator) -> None:
    emu = rest_site(start_emulator)

    async def body() -> tuple[str, str]:
        async with new_client(emu) as client:
            chat = pipeline.Chat(client, pipeline.Site(url=emu.base_url + "/"), api_key=KEY)
            return await chat.say("My name is Ada."), await chat.say("What is my name?")

    first, second = run(body())
    assert first == "Echo: My name is Ada. [2 msgs: system,user]"
    assert second == "Echo: What is my name? [4 msgs: system,user,assistant,user]"
    assert [m["content"] for m in emu.last_rest[1:]] == ["My name is Ada.", first, "What is my name?"]


def test_plain_permalinks_the_root_is_the_rest_route_form_the_page_names(start_emulator: StartEmulator) -> None:
    emu = rest_site(start_emulator, plain_permalinks=True)
    trace = pipeline.Trace()
    assert answer(emu, CONVERSATION[-1:], trace, api_key=KEY) == ["Echo: What is my name? [2 msgs: system,user]"]
    [payload] = [r for r in trace.records if r.stage == "payload"]
    assert payload.output.url == f"{emu.base_url}/index.php?rest_route=/aipkit/v1/chat/5/message"


def test_route_urls_under_both_root_forms() -> None:
    assert route_url("http://h/wp-json/", "aipkit/v1/chat/6/message") == "http://h/wp-json/aipkit/v1/chat/6/message"
    assert (route_url("http://h/index.php?rest_route=/", "aipkit/v1/chat/6/message")
            == "http://h/index.php?rest_route=/aipkit/v1/chat/6/message")
    assert route_url("http://h/blog/wp-json", "a/b") == "http://h/blog/wp-json/a/b"


def test_a_bot_the_page_does_not_show_is_reached_by_id(start_emulator: StartEmulator) -> None:
    emu = rest_site(start_emulator)
    assert answer(emu, CONVERSATION[-1:], api_key=KEY, bot_id=9) == ["Echo: What is my name? [2 msgs: system,user]"]


@pytest.mark.parametrize(("config", "kwargs", "error", "status"), [
    ({"rest_key": KEY}, {"api_key": "aipk_live_" + "0" * 48}, SiteKeyRejectedError, 401),
    ({"rest_key": None}, {"api_key": KEY}, RestApiDisabledError, 403),
    ({"rest_key": KEY}, {"api_key": KEY, "bot_id": 123}, RestBotUnknownError, 500),
])
def test_each_refusal_is_typed_and_not_retried(start_emulator: StartEmulator, config: dict[str, Any],
                                               kwargs: dict[str, Any], error: type[Exception], status: int) -> None:
    emu = start_emulator(generation="aipkit", **config)
    caught = failure(emu, CONVERSATION[-1:], retry=FAST_RETRY, **kwargs)
    assert type(caught) is error and getattr(caught, "status", None) == status
    assert not caught.transient
    assert emu.counters.snapshot()["post"] == 1  # no retry of a refusal


def test_a_blank_last_message_never_reaches_the_rest_api(start_emulator: StartEmulator) -> None:
    """The plugin would answer 400 ``rest_aipkit_invalid_last_message`` (a RestMessagesRejectedError, pinned by
    the fixture cases rest-*): the client says so itself, before any request."""
    emu = rest_site(start_emulator)
    caught = failure(emu, [{"role": "user", "content": "   "}], api_key=KEY)
    assert isinstance(caught, InvalidMessagesError) and not isinstance(caught, RestMessagesRejectedError)
    assert "blank" in str(caught)
    assert emu.counters.snapshot()["post"] == 0


def test_a_malformed_key_is_refused_before_any_request(start_emulator: StartEmulator) -> None:
    emu = rest_site(start_emulator)
    assert isinstance(failure(emu, CONVERSATION, api_key="two\nlines"), InvalidArgumentError)
    assert emu.counters.snapshot()["post"] == 0


def test_the_key_is_in_no_log_trace_error_or_url(start_emulator: StartEmulator) -> None:
    emu = rest_site(start_emulator)
    stream = io.StringIO()
    configure_logging(logging.DEBUG, json_lines=True, stream=stream)
    try:
        trace = pipeline.Trace()
        answer(emu, CONVERSATION, trace, api_key=KEY)
        bad_trace = pipeline.Trace()
        with pytest.raises(SiteKeyRejectedError) as caught:
            answer(emu, CONVERSATION, bad_trace, api_key=KEY[:-1] + "0")
    finally:
        configure_logging(logging.WARNING, stream=io.StringIO())
    shown = [stream.getvalue(), str(caught.value), repr(caught.value)]
    for record in trace.records + bad_trace.records:
        shown += [str(record.facts()), repr(record.output)]
    assert "rest" in stream.getvalue() and len(trace.records) >= 6
    for text in shown:
        assert KEY not in text and KEY[:-1] not in text
    payload = next(r.output for r in trace.records if r.stage == "payload")
    assert KEY not in payload.url and ("authorization", f"Bearer {KEY}") in payload.headers  # sent, never shown


def test_cli_site_key_and_its_error(start_emulator: StartEmulator) -> None:
    emu = rest_site(start_emulator)
    done = cli("ask", "Hello REST", *site_args(emu), "--site-key", KEY)
    assert (done.returncode, done.stdout) == (0, "Echo: Hello REST [2 msgs: system,user]\n")
    done = cli("trace", "Hello REST", *site_args(emu), "--site-key", KEY[:-1] + "1")
    assert done.returncode == 1 and "SiteKeyRejectedError" in done.stdout
    assert KEY[:-1] not in done.stdout + done.stderr


def test_cli_site_key_from_the_environment(start_emulator: StartEmulator) -> None:
    emu = rest_site(start_emulator)
    env = {**cli_env(), "CHATGPT_ES_SITE_KEY": KEY}
    done = subprocess.run([*COMMAND, "ask", "Hi", *site_args(emu), "--bot", "9"], capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (0, "Echo: Hi [2 msgs: system,user]\n"), done.stderr
    assert os.environ.get("CHATGPT_ES_SITE_KEY") is None


def test_the_provider_chat_takes_the_key_too(start_emulator: StartEmulator) -> None:
    emu = rest_site(start_emulator)

    async def body() -> list[str]:
        chat = provider_for(emu).chat(api_key=KEY, system_prompt="", retries=1)
        try:
            return [await chat.say("one"), await chat.say("two")]
        finally:
            await provider_for(emu).aclose()

    assert run(body()) == ["Echo: one [2 msgs: system,user]", "Echo: two [4 msgs: system,user,assistant,user]"]
    assert repr(KEY) not in repr(pipeline.Site(url="http://u.example/", api_key=KEY))


def test_a_rest_failure_on_a_page_without_a_chat_box_is_not_called_a_missing_chat_box() -> None:
    """The REST API needs no chat box: its 404 (a wrong root) stays a BadStatusError, while the same refusal of
    the seed's fallback values on such a page is the missing chat box."""
    fallback = extract_chatbox("<html><body>no chat here</body></html>")
    rest = choose_box(fallback, "5", KEY)
    refusal = BadStatusError("not found", status=404)
    assert rest.protocol == "rest" and not fallback_refused(rest, refusal)
    assert fallback_refused(fallback, refusal)
