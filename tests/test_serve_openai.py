"""The official ``openai`` SDK against ``chatgpt-es serve`` in front of the local site of both generations."""

from __future__ import annotations

import asyncio

import openai
import pytest
from conftest import StartEmulator
from openai.types.chat import ChatCompletionMessageParam
from serve_helpers import served

from chatgpt_es.emulator import Emulator

GENERATIONS = ["legacy_site", "aipkit_site"]


def user(text: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "user", "content": text}]


def sdk(url: str, **options: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="not-needed", max_retries=0, **options)  # type: ignore[arg-type]


@pytest.fixture(params=GENERATIONS)
def site(request: pytest.FixtureRequest) -> Emulator:
    emu: Emulator = request.getfixturevalue(request.param)
    return emu


def test_readme_snippet_gets_an_answer(legacy_site: Emulator) -> None:
    """The README's openai snippet, as written there, with the base URL of a running server."""
    with served(legacy_site) as url:
        # --- README: openai ---
        from openai import OpenAI

        client = OpenAI(base_url=f"{url}/v1", api_key="unused")
        reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hello"}])
        print(reply.choices[0].message.content)
        for chunk in client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Hello again"}], stream=True
        ):
            print(chunk.choices[0].delta.content or "", end="", flush=True)
        # --- end ---
    assert reply.choices[0].message.content == "Echo: Hello"


def test_sync_not_streamed(site: Emulator) -> None:
    with served(site) as url:
        reply = sdk(url).chat.completions.create(model="gpt-4o", messages=user("Hello there"), temperature=0.3)
    assert reply.object == "chat.completion"
    assert reply.model == "gpt-4o"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content == "Echo: Hello there"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (3, 5)  # ceil(11 / 4), ceil(17 / 4)
    assert reply.usage.total_tokens == 8


def test_sync_streamed(site: Emulator) -> None:
    with served(site) as url:
        chunks = list(sdk(url).chat.completions.create(
            model="gpt-4o", messages=user("one two three"), stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: one two three"
    pieces = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) == (1 if site.config.generation == "legacy" else 5)  # legacy here answers in one JSON body
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5
    assert len({c.id for c in chunks}) == 1


def test_async_streamed_and_not(site: Emulator) -> None:
    async def body(url: str) -> tuple[str | None, str]:
        async with openai.AsyncOpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as client:
            whole = await client.chat.completions.create(model="gpt-4o-mini", messages=user("async"))
            stream = await client.chat.completions.create(model="gpt-4o-mini", messages=user("streamed"),
                                                          stream=True)
            parts = [chunk.choices[0].delta.content or "" async for chunk in stream]
        return whole.choices[0].message.content, "".join(parts)

    with served(site) as url:
        assert asyncio.run(body(url)) == ("Echo: async", "Echo: streamed")


def test_concurrent_async_streams_share_one_page_fetch(site: Emulator) -> None:
    async def body(url: str) -> list[str]:
        async with openai.AsyncOpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as client:
            async def one(i: int) -> str:
                stream = await client.chat.completions.create(model="gpt-4o", messages=user(f"n{i}"), stream=True)
                return "".join([chunk.choices[0].delta.content or "" async for chunk in stream])
            return await asyncio.gather(*(one(i) for i in range(20)))

    with served(site, concurrency=4) as url:
        answers = asyncio.run(body(url))
    assert answers == [f"Echo: n{i}" for i in range(20)]
    assert site.counters.snapshot()["pages"] == 1  # one session, the token cache, single flight


def test_continued_conversation(site: Emulator) -> None:
    """The same earlier turns plus one new message: AIPKit reaches the same server-kept conversation,
    the legacy site gets the history in its field."""
    with served(site) as url:
        client = sdk(url)
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "My name is Ana."}]
        first = client.chat.completions.create(model="gpt-4o", messages=messages)
        messages += [{"role": "assistant", "content": first.choices[0].message.content or ""},
                     {"role": "user", "content": "And yours?"}]
        second = client.chat.completions.create(model="gpt-4o", messages=messages)
    # the system message became the system prompt: sent ahead of every legacy message, and ahead of only the
    # first message of a conversation the AIPKit site keeps (it stores each message as sent)
    assert first.choices[0].message.content == "Echo: Be brief. My name is Ana."
    prompt = "" if site.config.generation == "aipkit" else "Be brief. "
    assert second.choices[0].message.content == f"Echo: {prompt}And yours? (after 2 earlier turns)"
    if site.config.generation == "aipkit":
        assert [len(turns) for turns in site.conversations.values()] == [4]


def test_site_errors_are_typed_sdk_exceptions(site: Emulator) -> None:
    with served(site) as url:
        client = sdk(url)
        with pytest.raises(openai.RateLimitError) as limited:
            client.chat.completions.create(model="gpt-4o", messages=user("[[token-limit]]"))
        with pytest.raises(openai.BadRequestError) as bad:
            client.chat.completions.create(model="gpt-4o", messages=user("hi"), n=2)
        with pytest.raises(openai.BadRequestError) as tools:
            client.chat.completions.create(model="gpt-4o", messages=user("hi"), tools=[
                {"type": "function", "function": {"name": "f", "parameters": {}}}])
    assert limited.value.status_code == 429 and limited.value.code == "site_token_limit"
    assert (bad.value.param, bad.value.type) == ("n", "invalid_request_error")
    assert tools.value.param == "tools"


def test_error_after_the_stream_started_is_raised_by_the_sdk(aipkit_site: Emulator) -> None:
    with served(aipkit_site) as url:
        stream = sdk(url).chat.completions.create(model="gpt-4o", messages=user("a b c [[provider-fail]]"),
                                                  stream=True)
        received: list[str] = []
        with pytest.raises(openai.APIError) as caught:
            for chunk in stream:
                received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "Echo:"  # the two pieces sent before the failure
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "bad_site_answer"


@pytest.mark.parametrize(("knobs", "status", "code", "exception"), [
    ({"cloudflare": True}, 503, "cloudflare_challenge", openai.InternalServerError),
    ({"faults": ("500",), "fault_rate": 1.0}, 502, "bad_site_answer", openai.InternalServerError),
    ({"latency": 3.0}, 504, "deadline_exceeded", openai.InternalServerError),
])
def test_site_failures_have_the_issue_statuses(start_emulator: StartEmulator, knobs: dict[str, object],
                                               status: int, code: str, exception: type[openai.APIError]) -> None:
    emu = start_emulator(**knobs)
    with served(emu, total_timeout=0.5) as url, pytest.raises(exception) as caught:
        sdk(url).chat.completions.create(model="gpt-4o", messages=user("hi"))
    assert isinstance(caught.value, openai.APIStatusError)
    assert (caught.value.status_code, caught.value.code) == (status, code)
