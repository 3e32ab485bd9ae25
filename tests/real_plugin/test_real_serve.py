"""``chatgpt-es serve`` in front of the real plugin, driven by the official ``openai`` SDK: an answer on every
page, a stream that arrives in pieces, and a continued conversation the site's model sees whole."""

from __future__ import annotations

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

import pipeline
from chatgpt_es.server import ServerConfig, ServerThread, SiteEntry
from chatgpt_es.server.sites import DEFAULT_NAME
from real_plugin.expectations import SITE_PREFIX_ROLES, echo
from real_plugin.stand import PAGE, PAGES, Stand, StandPage, chat_messages

pytestmark = pytest.mark.real_plugin


def server_for(page: StandPage) -> ServerThread:
    site = pipeline.Site(url=page.url, system_prompt="")
    return ServerThread(ServerConfig(default=SiteEntry(DEFAULT_NAME, site, 4)))


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_the_openai_sdk_gets_the_models_exact_answer(stand: Stand, page: StandPage) -> None:
    with server_for(page) as base:
        sdk = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0)
        mark = stand.model_mark()
        done = sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hola, ¿qué tal?"}])
    [request] = stand.model_requests_since(mark)
    roles = [*SITE_PREFIX_ROLES[page.generation], "user"]
    assert [role for role, _ in chat_messages(request)] == roles
    assert done.choices[0].message.content == echo("Hola, ¿qué tal?", roles)


@pytest.mark.parametrize("name", ["1.9.11 stream", "2.4.71 inline"])
def test_a_streamed_page_streams_through_the_server_in_pieces(stand: Stand, name: str) -> None:
    page, words = PAGE[name], " ".join(f"w{i}" for i in range(12))
    with server_for(page) as base:
        sdk = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0)
        stream = sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": words}],
                                             stream=True)
        pieces = [chunk.choices[0].delta.content for chunk in stream
                  if chunk.choices and chunk.choices[0].delta.content]
    assert len(pieces) > 3
    assert "".join(pieces) == echo(words, [*SITE_PREFIX_ROLES[page.generation], "user"])


def test_a_continued_aipkit_conversation_reaches_the_model_whole(stand: Stand) -> None:
    page = PAGE["2.4.71 inline"]
    with server_for(page) as base:
        sdk = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0)
        history: list[ChatCompletionMessageParam] = []
        for text in ("first turn", "second turn"):
            history.append({"role": "user", "content": text})
            mark = stand.model_mark()
            answer = sdk.chat.completions.create(model="gpt-4o", messages=history).choices[0].message.content
            history.append({"role": "assistant", "content": answer or ""})
    [request] = stand.model_requests_since(mark)
    received = chat_messages(request)
    assert [text for role, text in received if role == "user"] == ["first turn", "second turn"]
    assert received[-1] == ("user", "second turn")
