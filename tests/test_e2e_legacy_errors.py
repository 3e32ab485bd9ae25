"""End to end against the local legacy site: every error kind, typed (the answers: test_e2e_legacy.py).

Every test talks to an emulator thread through a fresh ``pipeline.Client`` and checks the typed error, its
status and excerpt, and what the site saw (its counters): refusals, Cloudflare, unknown actions, invalid
messages, retried server errors.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import StartEmulator
from e2e_helpers import AJAX, FAST_RETRY, answer_of, ask_text, error_of, generate, new_client, run, site_of, user

import pipeline
from chatgpt_es.emulator import Emulator
from stages.errors import (
    CloudflareChallengeError,
    ConsentRequiredError,
    InvalidMessagesError,
    ResponseError,
    ServerError,
    SiteRefusedError,
    TokenLimitError,
    UnknownActionError,
)

# -- every error kind, typed -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("stream", "message", "kind", "text"),
    [
        (False, "[[token-limit]]", TokenLimitError,
         "You have reached your token limit. (HTTP 200): "
         "'{\"msg\":\"You have reached your token limit.\",\"tokenLimitReached\":true}'"),
        (True, "[[token-limit]]", TokenLimitError, "the site's token limit is reached: '[LIMITED]'"),
        (False, "[[consent]]", ConsentRequiredError, "the site wants its consent checkbox ticked (HTTP 200): "),
        (False, "[[upstream-error]]", SiteRefusedError,
         "the site refused: Incorrect API key provided. (HTTP 200): "
         "'{\"status\":\"error\",\"msg\":\"Incorrect API key provided.\"}'"),
        # a blank message ("It appears that nothing was inputted.") never reaches the site: test_actionable_errors
    ],
    ids=["token-limit-json", "token-limit-stream", "consent-json", "upstream-error-json"],
)
def test_site_errors_are_typed_value_errors_with_status_and_excerpt(
    start_emulator: StartEmulator, stream: bool, message: str, kind: type[ResponseError], text: str
) -> None:
    emu = start_emulator(stream=stream)
    error = error_of(emu, user(message), retry=FAST_RETRY)
    assert type(error) is kind
    assert isinstance(error, ValueError)  # the seed's contract, kept by every "bad answer" error
    assert str(error).startswith(text)
    assert isinstance(error, ResponseError)
    assert error.excerpt and error.excerpt in str(error)
    counts = emu.counters.snapshot()
    assert (counts["get"], counts["post"]) == (1, 1)  # refusals are not retried


def test_consent_demand_on_a_stream_site_is_a_consent_error(start_emulator: StartEmulator) -> None:
    emu = start_emulator(stream=True)
    error = error_of(emu, user("[[consent]]"))
    assert isinstance(error, ConsentRequiredError)


def test_upstream_error_on_a_stream_site_arrives_as_ordinary_text(start_emulator: StartEmulator) -> None:
    emu = start_emulator(stream=True)
    assert answer_of(emu, user("[[upstream-error]]")) == "Incorrect API key provided."


def test_cloudflare_challenge_fails_at_the_page_fetch_and_is_not_retried(start_emulator: StartEmulator) -> None:
    emu = start_emulator(cloudflare=True)
    trace = pipeline.Trace()

    async def body() -> None:
        async with new_client(emu, retry=FAST_RETRY) as client:
            await ask_text(client, site_of(emu), user("Hello"), trace)

    with pytest.raises(CloudflareChallengeError) as caught:
        run(body())
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.status == 403
    assert str(error).startswith("Cloudflare answered the page with a challenge (HTTP 403): '<!DOCTYPE html>")
    assert "Just a moment..." in error.excerpt
    failed = trace.failed()
    assert failed is not None and failed.stage == "fetch"
    assert [r.stage for r in trace.records] == ["prompt", "fetch"]
    assert emu.counters.snapshot()["requests"] == 1


def test_an_endpoint_that_does_not_know_the_action_is_an_unknown_action_error(
    legacy_site: Emulator, start_emulator: StartEmulator
) -> None:
    # The page is a legacy one, but the subclass fixes the endpoint of an AIPKit site: that WordPress has no
    # legacy action and answers 400 "0".
    aipkit = start_emulator(generation="aipkit")

    class WrongEndpoint(pipeline.ChatGptEs):
        url = legacy_site.base_url + "/"
        api_endpoint = aipkit.base_url + AJAX

    async def body() -> str:
        async with new_client(legacy_site, retry=FAST_RETRY) as client:
            return await generate(WrongEndpoint, client, user("Hello"))

    with pytest.raises(UnknownActionError) as caught:
        run(body())
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.status, error.excerpt) == (400, "0")
    assert str(error) == "WordPress does not know this AJAX action (HTTP 400): '0'"
    assert legacy_site.counters.snapshot()["post"] == 0
    counts = aipkit.counters.snapshot()
    assert counts["by_action"] == {"wpaicg_chat_shortcode_message": 1}
    assert counts["by_outcome"] == {"unknown_action": 1}


@pytest.mark.parametrize(
    "messages",
    [
        [],
        "Hello",
        {"role": "user", "content": "Hello"},
        [{"role": "user"}],
        [{"role": "robot", "content": "Hello"}],
        [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi"}],
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}],
        [{"role": "user", "content": 42}],
    ],
    ids=["empty", "string", "dict", "no-content", "bad-role", "last-not-user", "image-part", "int-content"],
)
def test_invalid_messages_fail_before_any_request(legacy_site: Emulator, messages: Any) -> None:
    with pytest.raises(InvalidMessagesError) as caught:
        answer_of(legacy_site, messages)
    assert isinstance(caught.value, ValueError)

    async def through_ask() -> str:
        async with new_client(legacy_site) as client:
            return await ask_text(client, site_of(legacy_site), messages)

    with pytest.raises(InvalidMessagesError):
        run(through_ask())
    assert legacy_site.counters.snapshot()["requests"] == 0


@pytest.mark.parametrize("messages", [user("broken \ud83d text"),
                                      [*user("broken \udc00"), {"role": "assistant", "content": "ok"}, *user("x")]],
                         ids=["message", "history"])
def test_unencodable_text_is_an_invalid_messages_error_before_any_request(legacy_site: Emulator,
                                                                          messages: Any) -> None:
    with pytest.raises(InvalidMessagesError):
        answer_of(legacy_site, messages)
    assert legacy_site.counters.snapshot()["requests"] == 0


def test_transient_server_errors_are_retried_then_raised(start_emulator: StartEmulator) -> None:
    emu = start_emulator(fault_rate=1.0, faults=("502",))
    error = error_of(emu, user("Hello"), retry=FAST_RETRY)
    assert type(error) is ServerError
    assert error.status == 502 and "502 Bad Gateway" in str(error)
    counts = emu.counters.snapshot()
    assert (counts["get"], counts["post"]) == (1, FAST_RETRY.attempts)  # the page once, the message each attempt
    assert counts["by_outcome"] == {"page": 1, "fault_502": FAST_RETRY.attempts}
