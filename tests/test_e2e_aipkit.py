"""End to end against the local AIPKit site (AI Power 2.x): cache POST → stream GET, server-kept history,
nonce refresh, cache misses, provider failures — over real HTTP, checked against the site's own records.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from conftest import FakeClock, StartEmulator
from e2e_helpers import FAST_RETRY, ask_text, generate, new_client, provider_for, run, site_of, user

import pipeline
from chatgpt_es.emulator import Emulator
from stages import FollowUp, Text, build_payload, format_prompt, parse_answer, send_request
from stages.aipkit import AIPKIT
from stages.errors import (
    CacheMissError,
    ChatGptEsError,
    EmbedNotAvailableError,
    InvalidMessagesError,
    ProviderFailedError,
    SiteRefusedError,
    TokenLimitError,
)
from stages.models import ChatBox, Conversation, HttpRequest
from stages.payload import new_conversation, new_stamp

CACHE = "aipkit_cache_sse_message"
STREAM = "aipkit_frontend_chat_stream"
NONCE = "aipkit_get_frontend_chat_nonce"


def thread_of(emu: Emulator, conversation: Conversation) -> list[tuple[str, str]]:
    """(role, content) of the conversation the site keeps under this visitor's ids (bot 5)."""
    return [(t.role, t.content) for t in emu.conversations[(5, conversation.session_id,
                                                            conversation.conversation_uuid)]]


def test_one_message_is_a_cache_post_and_a_stream_get(aipkit_site: Emulator) -> None:
    async def body() -> str:
        async with new_client(aipkit_site) as client:
            return await generate(provider_for(aipkit_site), client, user("Hello there"))

    assert run(body()) == "Echo: Hello there"
    counts = aipkit_site.counters.snapshot()
    assert (counts["pages"], counts["post"], counts["get"]) == (1, 1, 2)  # page GET, cache POST, stream GET
    assert counts["by_action"] == {CACHE: 1, STREAM: 1}
    assert counts["by_outcome"] == {"page": 1, "cache_stored": 1, "stream": 1}
    form = aipkit_site.last_form
    assert (form["action"], form["message"], form["bot_id"]) == (CACHE, "Hello there", "5")
    assert form["_ajax_nonce"] == aipkit_site.current_nonce()
    assert form["user_client_message_id"].startswith("aipkit-client-msg-5-")
    [thread] = aipkit_site.conversations.values()
    assert [(t.role, t.content) for t in thread] == [("user", "Hello there"), ("bot", "Echo: Hello there")]


def test_three_turn_chat_the_site_keeps_the_history_and_each_post_carries_only_the_new_message(
    aipkit_site: Emulator,
) -> None:
    sent: list[str] = []

    async def body() -> tuple[list[str], Conversation]:
        async with new_client(aipkit_site) as client:
            chat = pipeline.Chat(client, site_of(aipkit_site))
            answers = []
            for text in ("My name is Ana.", "What is my name?", "¿Y en español?"):
                answers.append(await chat.say(text))
                sent.append(aipkit_site.last_form["message"])
            return answers, chat.conversation

    answers, conversation = run(body())
    assert answers == [
        "Echo: My name is Ana.",
        "Echo: What is my name? (after 2 earlier turns)",
        "Echo: ¿Y en español? (after 4 earlier turns)",
    ]
    assert sent == ["My name is Ana.", "What is my name?", "¿Y en español?"]
    assert len(aipkit_site.conversations) == 1
    assert thread_of(aipkit_site, conversation) == [
        ("user", "My name is Ana."), ("bot", "Echo: My name is Ana."),
        ("user", "What is my name?"), ("bot", "Echo: What is my name? (after 2 earlier turns)"),
        ("user", "¿Y en español?"), ("bot", "Echo: ¿Y en español? (after 4 earlier turns)"),
    ]
    counts = aipkit_site.counters.snapshot()
    assert (counts["pages"], counts["by_action"]) == (1, {CACHE: 3, STREAM: 3})


def test_generator_seeds_an_unknown_conversation_then_continues_the_same_one(aipkit_site: Emulator) -> None:
    messages = [
        {"role": "user", "content": "My name is Ana."},
        {"role": "assistant", "content": "Nice to meet you, Ana."},
        {"role": "user", "content": "What is my name?"},
    ]
    seeded = "User: My name is Ana.\nAssistant: Nice to meet you, Ana.\nUser: What is my name?\nAssistant:"
    provider = provider_for(aipkit_site)
    forms: list[dict[str, str]] = []

    async def body() -> tuple[str, str]:
        async with new_client(aipkit_site) as client:
            first = await generate(provider, client, messages)
            forms.append(dict(aipkit_site.last_form))
            follow = [*messages, {"role": "assistant", "content": first}, {"role": "user", "content": "Thanks!"}]
            second = await generate(provider, client, follow)
            forms.append(dict(aipkit_site.last_form))
            return first, second

    first, second = run(body())
    assert forms[0]["message"] == seeded  # the earlier turns travel inside the message, seed format
    assert first == "Echo: " + seeded
    assert forms[1]["message"] == "Thanks!"  # only the new message: the site holds the rest
    assert second == "Echo: Thanks! (after 2 earlier turns)"
    [thread] = aipkit_site.conversations.values()  # the SAME conversation_uuid both times
    assert [(t.role, t.content) for t in thread] == [
        ("user", seeded), ("bot", first), ("user", "Thanks!"), ("bot", second),
    ]


def test_generator_starts_a_new_conversation_when_the_list_does_not_extend_a_held_one(
    aipkit_site: Emulator,
) -> None:
    provider = provider_for(aipkit_site)

    async def body() -> str:
        async with new_client(aipkit_site) as client:
            first = await generate(provider, client, user("Hello"))
            edited = [*user("Hello"), {"role": "assistant", "content": first + " (edited)"},
                      {"role": "user", "content": "Again"}]
            return await generate(provider, client, edited)

    answer = run(body())
    seeded = "User: Hello\nAssistant: Echo: Hello (edited)\nUser: Again\nAssistant:"
    assert answer == "Echo: " + seeded
    assert len(aipkit_site.conversations) == 2


def test_stale_page_nonce_is_refreshed_from_the_nonce_endpoint_without_a_second_page_get(
    start_emulator: StartEmulator, fake_clock: FakeClock
) -> None:
    emu = start_emulator(clock=fake_clock, generation="aipkit", nonce_life=100.0)
    stale: list[str] = []

    async def body() -> list[str]:
        async with new_client(emu) as client:
            chat = pipeline.Chat(client, site_of(emu))
            first = await chat.say("one")
            stale.append(emu.last_form["_ajax_nonce"])
            fake_clock.advance(100.0)  # two ticks: the page's nonce is refused now
            return [first, await chat.say("two")]

    assert run(body()) == ["Echo: one", "Echo: two (after 2 earlier turns)"]
    counts = emu.counters.snapshot()
    assert counts["pages"] == 1  # no second page GET
    assert counts["by_action"] == {CACHE: 3, STREAM: 2, NONCE: 1}  # refused POST, refresh, the same POST again
    assert counts["by_outcome"] == {"page": 1, "cache_stored": 2, "stream": 2, "nonce_rejected": 1,
                                    "nonce_refresh": 1}
    assert emu.last_form["_ajax_nonce"] == emu.current_nonce() != stale[0]


# -- the cache key: single use, 60 s (here: cache_ttl) ----------------------------------------------


async def cache_message(client: pipeline.Client, site: pipeline.Site, box: ChatBox, text: str,
                        conversation: Conversation) -> FollowUp:
    """The stages by hand: payload → send → parse of the cache POST; its follow-up (the cache key)."""
    prompt = format_prompt(user(text), "")
    request = build_payload(prompt, box, conversation, site.endpoint_for(box), new_stamp(), site.url)
    assert request.purpose == "cache"
    outcomes = await _outcomes(client, site, request)
    [follow] = [o for o in outcomes if isinstance(o, FollowUp)]
    return follow


async def read_stream(client: pipeline.Client, site: pipeline.Site, box: ChatBox, follow: FollowUp,
                      conversation: Conversation) -> str:
    assert AIPKIT.follow_up is not None
    request: HttpRequest = AIPKIT.follow_up(follow, box, conversation, site.endpoint_for(box), new_stamp())
    assert request.purpose == "stream"
    return "".join(o.text for o in await _outcomes(client, site, request) if isinstance(o, Text))


async def _outcomes(client: pipeline.Client, site: pipeline.Site, request: HttpRequest) -> list[Any]:
    answer = await send_request(client.session, request, site.url, client.settings.transport, new_stamp())
    return [o async for o in parse_answer(AIPKIT, request.purpose, answer.head, answer.chunks())]


def test_a_used_cache_key_is_a_cache_miss(aipkit_site: Emulator) -> None:
    site = site_of(aipkit_site)
    conversation = new_conversation()

    async def body() -> None:
        async with new_client(aipkit_site) as client:
            box = await client.chat_box(site, pipeline.Trace())
            follow = await cache_message(client, site, box, "once", conversation)
            assert follow.cache_key.startswith("aipkit_sse_")
            assert await read_stream(client, site, box, follow, conversation) == "Echo: once"
            await read_stream(client, site, box, follow, conversation)  # the same key again

    with pytest.raises(CacheMissError) as caught:
        run(body())
    assert "Message not found in cache." in str(caught.value)
    assert isinstance(caught.value, SiteRefusedError) and isinstance(caught.value, ValueError)
    assert aipkit_site.counters.snapshot()["by_outcome"] == {"page": 1, "cache_stored": 1, "stream": 1,
                                                              "cache_miss": 1}


def test_an_expired_cache_key_is_a_cache_miss(start_emulator: StartEmulator, fake_clock: FakeClock) -> None:
    emu = start_emulator(clock=fake_clock, generation="aipkit", cache_ttl=5.0)
    site = site_of(emu)
    conversation = new_conversation()

    async def body() -> None:
        async with new_client(emu) as client:
            box = await client.chat_box(site, pipeline.Trace())
            follow = await cache_message(client, site, box, "too late", conversation)
            fake_clock.advance(6.0)
            await read_stream(client, site, box, follow, conversation)

    with pytest.raises(CacheMissError) as caught:
        run(body())
    assert "Cached message has expired." in str(caught.value)
    assert emu.counters.snapshot()["by_outcome"] == {"page": 1, "cache_stored": 1, "cache_expired": 1}
    assert emu.conversations == {}


# -- answers that are not plain text --------------------------------------------------------------------


def test_provider_failure_mid_answer_keeps_the_partial_text(aipkit_site: Emulator) -> None:
    received: list[str] = []

    async def body() -> str:
        async with new_client(aipkit_site, retry=FAST_RETRY) as client:
            return await generate(provider_for(aipkit_site), client, user("[[provider-fail]] tell me"), received)

    with pytest.raises(ProviderFailedError) as caught:
        run(body())
    error = caught.value
    assert received == ["Echo", ":"]
    assert error.partial_text == "".join(received) == "Echo:"
    assert "API Error: Unknown path /v1/messages Type: invalid_request_error" in str(error)
    assert isinstance(error, ValueError)
    # not retried: text had reached the caller
    assert aipkit_site.counters.snapshot()["by_action"] == {CACHE: 1, STREAM: 1}
    assert aipkit_site.conversations == {}


@pytest.mark.parametrize("message", ["[[warning]] with a warning", "[[events]] with other events"])
def test_warning_and_other_events_do_not_disturb_the_answer(aipkit_site: Emulator, message: str) -> None:
    trace = pipeline.Trace()

    async def body() -> str:
        async with new_client(aipkit_site) as client:
            return await ask_text(client, site_of(aipkit_site), user(message), trace)

    assert run(body()) == "Echo: " + message
    assert trace.failed() is None
    notices = trace.records[-1].facts()["output"]["notices"]
    kinds = [notice.split(":", 1)[0] for notice in notices]
    if "warning" in message:
        assert "warning" in kinds
    else:  # citations and the response id are kept as such, not as notices
        output = trace.records[-1].facts()["output"]
        assert "status" in kinds and list(output["citations"]) == [{"title": "Example Domain", "url": "https://example.com/"}]
        assert output["response_id"].startswith("resp_")


@pytest.mark.parametrize(
    ("message", "kind", "text"),
    [
        ("[[token-limit]]", TokenLimitError, "You have reached your token limit."),
        # a blank message never reaches the site (it would refuse it: "Data to cache … cannot be empty")
        ("  ", InvalidMessagesError, "messages[0] is blank: there is nothing to send"),
    ],
    ids=["token-limit", "blank"],
)
def test_site_refusals_are_typed(aipkit_site: Emulator, message: str, kind: type[ChatGptEsError],
                                 text: str) -> None:
    async def body() -> str:
        async with new_client(aipkit_site, retry=FAST_RETRY) as client:
            return await generate(provider_for(aipkit_site), client, user(message))

    with pytest.raises(ChatGptEsError) as caught:
        run(body())
    assert type(caught.value) is kind
    assert str(caught.value).startswith(text)
    assert isinstance(caught.value, ValueError)


def test_an_origin_on_another_host_is_refused_as_embed_not_available(aipkit_site: Emulator) -> None:
    port = aipkit_site.base_url.rsplit(":", 1)[1]
    site = pipeline.Site(url=f"http://localhost:{port}/", system_prompt="")  # the site itself says 127.0.0.1

    async def body() -> str:
        async with new_client(aipkit_site, retry=FAST_RETRY) as client:
            # another host than the page's: our endpoint policy refuses it unless the caller allows it
            transport = attrs.evolve(client.settings.transport, allow_endpoint_hosts=("127.0.0.1",))
            client.settings = attrs.evolve(client.settings, transport=transport)
            return await ask_text(client, site, user("Hello"))

    with pytest.raises(EmbedNotAvailableError) as caught:
        run(body())
    error = caught.value
    assert error.status == 403
    assert "embed_not_available" in str(error)
    assert isinstance(error, ValueError)
    assert aipkit_site.counters.snapshot()["by_outcome"] == {"page": 1, "embed_not_available": 1}


def test_the_same_subclass_call_works_on_both_generations(start_emulator: StartEmulator) -> None:
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Bye"},
    ]

    def call(emu: Emulator) -> str:
        class MySite(pipeline.ChatGptEs):
            url = emu.base_url + "/"

        async def body() -> str:
            async with new_client(emu) as client:
                return "".join([chunk async for chunk in MySite.create_async_generator(
                    "gpt-4o", messages, system_prompt="", client=client)])

        return run(body())

    legacy = start_emulator()
    aipkit = start_emulator(generation="aipkit")
    assert call(legacy) == "Echo: Bye (after 2 earlier turns)"  # the history travels in wpaicg_chat_history
    assert legacy.last_history == [("user", "Hi"), ("assistant", "Hello!")]
    assert call(aipkit) == "Echo: User: Hi\nAssistant: Hello!\nUser: Bye\nAssistant:"  # seeded into the message
