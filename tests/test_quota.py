"""Guest quotas end to end against the local AIPKit site: the quota notice and "Access disabled for guests."
are typed, carry the site's message and actions, are not retried, and `stage parse` shows them."""

from __future__ import annotations

import json

import pytest
from cli_helpers import cli, site_args
from conftest import FIXTURES, StartEmulator
from e2e_helpers import FAST_RETRY, collect, new_client, provider_for, run

import pipeline
from stages.errors import QuotaExceededError, SiteRefusedError
from stages.models import Conversation


def test_the_quota_is_reached_on_the_second_message_of_a_session(start_emulator: StartEmulator) -> None:
    emu = start_emulator(generation="aipkit", guest_limit=10)

    async def body() -> tuple[str, QuotaExceededError]:
        async with new_client(emu, retry=FAST_RETRY) as client:
            chat = pipeline.Chat(client, pipeline.Site(url=emu.base_url + "/"))
            first = await chat.say("one")
            with pytest.raises(QuotaExceededError) as caught:
                await chat.say("two")
            return first, caught.value

    first, error = run(body())
    assert first == "Echo: one"
    assert isinstance(error, SiteRefusedError) and not error.transient
    assert error.quota_message == "You have reached your quota for this period." and error.actions == ()
    counts = emu.counters.snapshot()
    assert counts["by_outcome"]["quota"] == 1  # not retried
    assert counts["by_action"]["aipkit_cache_sse_message"] == 2


def test_the_quota_message_and_actions_of_the_site(start_emulator: StartEmulator) -> None:
    emu = start_emulator(generation="aipkit", guest_limit=1, quota_message="Guest limit reached. Log in.",
                         quota_actions=(("Log in", "http://example.test/wp-login.php"),
                                        ("Open link", "http://example.test/plain/")))
    emu.token_usage[("s", 5)] = 1

    async def body() -> QuotaExceededError:
        async with new_client(emu) as client:
            session = Conversation(client_id="c", session_id="s", conversation_uuid="u")
            with pytest.raises(QuotaExceededError) as caught:
                await collect(pipeline.ask(client, pipeline.Site(url=emu.base_url + "/"),
                                           [{"role": "user", "content": "hi"}], conversation=session))
            return caught.value

    error = run(body())
    assert error.quota_message == "Guest limit reached. Log in."
    assert error.actions == ({"label": "Log in", "url": "http://example.test/wp-login.php", "variant": "primary"},
                             {"label": "Open link", "url": "http://example.test/plain/", "variant": "secondary"})
    assert "Log in: http://example.test/wp-login.php" in str(error)


def test_guests_disabled_is_typed_and_not_retried(start_emulator: StartEmulator) -> None:
    emu = start_emulator(generation="aipkit", guest_limit=0)

    async def body() -> QuotaExceededError:
        async with new_client(emu, retry=FAST_RETRY) as client:
            with pytest.raises(QuotaExceededError) as caught:
                await collect(provider_for(emu).create_async_generator(
                    "gpt-4o", [{"role": "user", "content": "hi"}], client=client))
            return caught.value

    error = run(body())
    assert error.quota_message == "Access disabled for guests."
    assert emu.counters.snapshot()["by_outcome"]["guests_disabled"] == 1


def test_the_rest_api_ignores_the_guest_quota(start_emulator: StartEmulator) -> None:
    key = "aipk_live_" + "1" * 48
    emu = start_emulator(generation="aipkit", guest_limit=0, rest_key=key)
    done = cli("ask", "Hi", *site_args(emu), "--site-key", key)
    assert (done.returncode, done.stdout) == (0, "Echo: Hi [2 msgs: system,user]\n")


def test_stage_parse_shows_the_quota() -> None:
    done = cli("stage", "parse", str(FIXTURES / "cases" / "aipkit-stream-quota-actions" / "answer.sse"),
               "--protocol", "aipkit")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["error"] == "QuotaExceededError"
    assert result["quota"]["message"] == "Guest limit reached. Log in to keep chatting."
    assert [a["label"] for a in result["quota"]["actions"]] == ["Log in", "Open link"]
