"""End to end against the local legacy site (AI Power 1.9.x, ``wpaicg``): the whole pipeline over real HTTP.

Every test talks to an emulator thread through a fresh ``pipeline.Client`` and checks the answer's exact
text, the typed error, and what the site saw (its counters, the last form, the decoded history).  Every error
kind: test_e2e_legacy_errors.py.
"""

from __future__ import annotations

import asyncio

from conftest import FakeClock, StartEmulator
from e2e_helpers import answer_of, ask_text, collect, error_of, new_client, provider_for, run, site_of, timed, user

import pipeline
from chatgpt_es.emulator import Emulator
from stages.errors import TlsVerificationError, TransportError

STAGES = ["prompt", "fetch", "extract", "endpoint", "payload", "send", "parse"]


# -- answers: JSON and stream, HTTP and HTTPS -----------------------------------------------


def test_json_site_answers_the_echo_in_one_page_get_and_one_post(legacy_site: Emulator) -> None:
    assert answer_of(legacy_site, user("Hello there")) == "Echo: Hello there"
    counts = legacy_site.counters.snapshot()
    assert (counts["get"], counts["post"], counts["pages"]) == (1, 1, 1)
    assert counts["by_action"] == {"wpaicg_chat_shortcode_message": 1}
    assert counts["by_outcome"] == {"page": 1, "answer": 1}
    form = legacy_site.last_form
    assert form["action"] == "wpaicg_chat_shortcode_message"
    assert form["chatbot_identity"] == "shortcode"
    assert (form["message"], form["bot_id"], form["post_id"]) == ("Hello there", "0", "4")
    assert form["wpaicg_chat_history"] == "[]"
    assert form["_wpnonce"] == legacy_site.current_nonce()


def test_stream_site_delivers_chunks_as_they_arrive(start_emulator: StartEmulator) -> None:
    emu = start_emulator(stream=True, chunk_delay=0.05)

    async def body() -> list[tuple[float, str]]:
        async with new_client(emu) as client:
            chunks = provider_for(emu).create_async_generator("gpt-4o", user("Hello there"), system_prompt="",
                                                              client=client)
            return await timed(chunks)

    arrivals = run(body())
    assert "".join(text for _, text in arrivals) == "Echo: Hello there"
    assert [text for _, text in arrivals] == ["Echo", ":", " Hello", " there"]
    # 3 gaps of 0.05 s between the first and the last piece: they were not buffered into one answer
    assert arrivals[-1][0] - arrivals[0][0] >= 0.1
    assert emu.counters.snapshot()["by_outcome"] == {"page": 1, "stream": 1}


def test_https_site_verified_against_its_test_ca(start_emulator: StartEmulator) -> None:
    emu = start_emulator(tls=True)
    assert emu.base_url.startswith("https://127.0.0.1:")
    assert emu.ca_file is not None
    assert answer_of(emu, user("Hola")) == "Echo: Hola"  # new_client verifies against emu.ca_file


def test_https_site_with_default_verification_fails_with_a_transport_error(start_emulator: StartEmulator) -> None:
    emu = start_emulator(tls=True)
    error = error_of(emu, user("Hola"), verify=True)
    assert type(error) is TlsVerificationError and isinstance(error, TransportError) and not error.transient
    assert f"GET {emu.base_url}/: TLS verification failed" in str(error)
    assert emu.counters.snapshot()["requests"] == 0  # the TLS handshake failed: no HTTP request got through


# -- which chat box: widget, custom bot ------------------------------------------------------


def test_widget_page_posts_the_widget_action_and_identity(start_emulator: StartEmulator) -> None:
    emu = start_emulator(page="widget")
    assert answer_of(emu, user("From the widget")) == "Echo: From the widget"
    form = emu.last_form
    assert (form["action"], form["chatbot_identity"], form["bot_id"]) == ("wpaicg_chatbox_message", "widget", "0")
    assert emu.counters.snapshot()["by_action"] == {"wpaicg_chatbox_message": 1}


def test_custom_bot_page_posts_its_bot_id_and_identity(start_emulator: StartEmulator) -> None:
    emu = start_emulator(page="custom-bot", bot_id=42)
    assert answer_of(emu, user("Bot?")) == "Echo: Bot?"
    form = emu.last_form
    assert (form["action"], form["chatbot_identity"], form["bot_id"]) == (
        "wpaicg_chat_shortcode_message", "custom_bot_42", "42")


# -- conversations: the history survives the plugin's decoder --------------------------------

HARD_TURN = 'He said "hi" \\ back\nthen\r\nmore\rend ¿qué tal? 😀 100%20 off <b>bold</b>\tx\x01y\x7fz'
# The README's table, applied by hand: what the site must decode from that turn.
HARD_TURN_AS_DECODED = (
    "He said \u201dhi\u201d \uff3c back\u2028then\u2028more\u2028end ¿qué tal? 😀 100\uff0520 off "
    "\uff1cb\uff1ebold\uff1c/b\uff1e x\u2401y\u2421z"
)


def test_three_turn_chat_sends_every_turn_in_the_history_with_visible_replacements(legacy_site: Emulator) -> None:
    async def body() -> list[str]:
        async with new_client(legacy_site) as client:
            chat = pipeline.Chat(client, site_of(legacy_site), history="structured")
            return [await chat.say(HARD_TURN), await chat.say("second"), await chat.say("third")]

    first, second, third = run(body())
    assert first == "Echo: " + HARD_TURN  # the current message itself is sent unchanged
    assert second == "Echo: second (after 2 earlier turns)"
    assert third == "Echo: third (after 4 earlier turns)"
    assert legacy_site.last_form["message"] == "third"
    assert legacy_site.last_history == [
        ("user", HARD_TURN_AS_DECODED),
        ("assistant", "Echo: " + HARD_TURN_AS_DECODED),
        ("user", "second"),
        ("assistant", "Echo: second (after 2 earlier turns)"),
    ]
    counts = legacy_site.counters.snapshot()
    assert (counts["get"], counts["post"]) == (1, 3)


def test_one_page_get_for_several_messages_and_a_fresh_client_fetches_again(legacy_site: Emulator) -> None:
    site = site_of(legacy_site)

    async def body() -> list[str]:
        async with new_client(legacy_site) as client:
            answers = [await ask_text(client, site, user(f"message {i}")) for i in range(3)]
        assert legacy_site.counters.snapshot()["get"] == 1
        async with new_client(legacy_site) as fresh:
            answers.append(await ask_text(fresh, site, user("from a fresh client")))
        return answers

    assert run(body()) == ["Echo: message 0", "Echo: message 1", "Echo: message 2", "Echo: from a fresh client"]
    counts = legacy_site.counters.snapshot()
    assert (counts["get"], counts["pages"], counts["post"]) == (2, 2, 4)


# -- nonces -----------------------------------------------------------------------------------


def test_expired_nonce_fetches_the_page_once_more_and_succeeds(
    start_emulator: StartEmulator, fake_clock: FakeClock
) -> None:
    emu = start_emulator(clock=fake_clock, nonce_life=100.0)  # a tick is 50 s
    site = site_of(emu)
    trace = pipeline.Trace()

    async def body() -> tuple[str, str]:
        async with new_client(emu) as client:
            first = await ask_text(client, site, user("one"))
            fake_clock.advance(100.0)  # two ticks: the cached nonce is now refused
            return first, await ask_text(client, site, user("two"), trace)

    assert run(body()) == ("Echo: one", "Echo: two")
    counts = emu.counters.snapshot()
    assert (counts["get"], counts["post"], counts["pages"]) == (2, 3, 2)
    assert counts["by_outcome"] == {"page": 2, "answer": 2, "nonce_rejected": 1}
    assert [(r.stage, r.ok) for r in trace.records] == [
        ("prompt", True), ("fetch", True), ("endpoint", True), ("payload", True), ("send", True), ("parse", False),
        ("fetch", True), ("extract", True), ("endpoint", True), ("payload", True), ("send", True), ("parse", True),
    ]
    assert emu.last_form["_wpnonce"] == emu.current_nonce()


def test_concurrent_messages_with_an_expired_nonce_renew_it_with_one_page_get(
    start_emulator: StartEmulator, fake_clock: FakeClock
) -> None:
    emu = start_emulator(clock=fake_clock, nonce_life=100.0, latency=0.02)
    site = site_of(emu)

    async def body() -> list[str]:
        async with new_client(emu) as client:
            await ask_text(client, site, user("warm up"))
            fake_clock.advance(100.0)
            return await asyncio.gather(*(ask_text(client, site, user(f"m{i}")) for i in range(16)))

    assert run(body()) == [f"Echo: m{i}" for i in range(16)]
    counts = emu.counters.snapshot()
    assert counts["pages"] == 2
    assert counts["by_outcome"] == {"page": 2, "answer": 17, "nonce_rejected": 16}


# -- concurrency and traces -----------------------------------------------------------------------


def test_64_cold_conversations_at_once_share_one_page_get(start_emulator: StartEmulator) -> None:
    emu = start_emulator(latency=0.05)
    site = site_of(emu)

    async def body() -> list[str]:
        async with new_client(emu) as client:
            chats = [pipeline.Chat(client, site) for _ in range(64)]
            return await asyncio.gather(*(chat.say(f"conversation {i}") for i, chat in enumerate(chats)))

    assert run(body()) == [f"Echo: conversation {i}" for i in range(64)]
    counts = emu.counters.snapshot()
    assert (counts["get"], counts["pages"], counts["post"]) == (1, 1, 64)


def test_trace_records_every_stage_in_order_and_a_cached_fetch_next_time(legacy_site: Emulator) -> None:
    first, second = pipeline.Trace(), pipeline.Trace()
    site = site_of(legacy_site)

    async def body() -> list[str]:
        async with new_client(legacy_site) as client:
            return [await ask_text(client, site, user("one"), first), await ask_text(client, site, user("two"),
                                                                                      second)]

    assert run(body()) == ["Echo: one", "Echo: two"]
    assert [r.stage for r in first.records] == STAGES
    assert all(r.ok and r.error is None for r in first.records)
    assert first.failed() is None
    assert [r.stage for r in second.records] == ["prompt", "fetch", "endpoint", "payload", "send", "parse"]
    assert all(r.ok for r in second.records)
    fetch = second.records[1]
    assert fetch.output == {"url": site.url, "cached": True}
    assert fetch.note == "page tokens from the cache"
    parsed = first.records[-1].facts()["output"]
    assert (parsed["chunks"], parsed["chars"], parsed["follow_up"]) == (1, len("Echo: one"), None)


def test_ask_yields_the_stream_pieces_in_order(start_emulator: StartEmulator) -> None:
    emu = start_emulator(stream=True)

    async def body() -> list[str]:
        async with new_client(emu) as client:
            return await collect(pipeline.ask(client, site_of(emu), user("What is my name?")))

    assert run(body()) == ["Echo", ":", " What", " is", " my", " name?"]
