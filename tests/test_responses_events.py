"""Responses-mode events end to end against the local AIPKit site: status, openai_response_id before the last
text, citations kept and returned, warnings returned, an error without done typed, and the conversation state
(previous_openai_response_id) sent as the site's own script does."""

from __future__ import annotations

import io
import json
import logging

import pytest
from cli_helpers import cli
from conftest import FIXTURES, StartEmulator
from e2e_helpers import FAST_RETRY, new_client, run

import pipeline
from chatgpt_es.emulator import Emulator
from chatgpt_es.emulator.responses import CITATIONS
from chatgpt_es.runtime.logs import configure_logging
from stages.errors import ChatGptEsError, ProviderFailedError


def chat_turns(emu: Emulator, *texts: str, trace: pipeline.Trace | None = None) -> tuple[pipeline.Chat, list[str]]:
    async def body() -> tuple[pipeline.Chat, list[str]]:
        async with new_client(emu, retry=FAST_RETRY) as client:
            chat = pipeline.Chat(client, pipeline.Site(url=emu.base_url + "/"))
            return chat, [await chat.say(text, trace) for text in texts]

    return run(body())


def test_the_text_after_the_response_id_still_counts_and_the_id_is_kept(start_emulator: StartEmulator) -> None:
    emu = start_emulator(generation="aipkit", responses_mode=True)
    stream = io.StringIO()
    configure_logging(logging.INFO, json_lines=True, stream=stream)
    try:
        trace = pipeline.Trace()
        chat, answers = chat_turns(emu, "Hello responses", trace=trace)
    finally:
        configure_logging(logging.WARNING, stream=io.StringIO())
    assert answers == ["Echo: Hello responses"]
    assert chat.response_id is not None and chat.response_id.startswith("resp_")
    summary = trace.answer_extras()
    assert summary is not None and summary.response_id == chat.response_id
    assert any("response.created" in n for n in summary.notices)
    assert "site_status" in stream.getvalue() and "response.created" in stream.getvalue()
    assert emu.last_previous_response_id is None  # conversation state is off: nothing sent


def test_conversation_state_sends_the_previous_answers_id(start_emulator: StartEmulator) -> None:
    emu = start_emulator(generation="aipkit", conversation_state=True)
    seen: list[str | None] = []

    async def body() -> pipeline.Chat:
        async with new_client(emu) as client:
            chat = pipeline.Chat(client, pipeline.Site(url=emu.base_url + "/"))
            await chat.say("one")
            seen.append(emu.last_previous_response_id)
            first_id = chat.response_id
            await chat.say("two")
            seen.append(emu.last_previous_response_id)
            seen.append(first_id)
            return chat

    chat = run(body())
    assert seen[0] is None and seen[1] == seen[2] and seen[1] is not None
    assert chat.response_id != seen[2]


def test_citations_are_kept_once_and_returned(start_emulator: StartEmulator) -> None:
    emu = start_emulator(generation="aipkit")
    trace = pipeline.Trace()
    chat, answers = chat_turns(emu, "[[citations]] capital of France?", trace=trace)
    assert answers == ["Echo: [[citations]] capital of France?"]
    assert chat.citations == tuple(CITATIONS)
    summary = trace.answer_extras()
    assert summary is not None and summary.citations == tuple(CITATIONS)
    assert trace.records[-1].facts()["output"]["citations"][0]["url"] == "https://example.org/paris"


@pytest.mark.parametrize(("trigger", "warning"), [
    ("[[incomplete]]", " (Incomplete: max_output_tokens)"),
    ("[[refusal]]", " (Refusal: I can't help with that.)"),
    ("[[content-filter]]", " (Warning: Content Filtered)"),
])
def test_warnings_are_returned_with_the_text(start_emulator: StartEmulator, trigger: str, warning: str) -> None:
    emu = start_emulator(generation="aipkit")
    chat, answers = chat_turns(emu, f"{trigger} go")
    assert answers == [f"Echo: {trigger} go"]
    assert chat.warnings == (warning,)


@pytest.mark.parametrize(("trigger", "partial", "said"), [
    ("[[response-failed]]", "Echo:", "The model is overloaded."),
    ("[[empty-stream]]", "", "no data received from AI"),
])
def test_an_error_without_done_is_typed_and_not_retried(start_emulator: StartEmulator, trigger: str, partial: str,
                                                        said: str) -> None:
    emu = start_emulator(generation="aipkit")
    with pytest.raises(ChatGptEsError) as caught:
        chat_turns(emu, f"{trigger} go")
    assert said in str(caught.value) and not caught.value.transient
    if partial:
        assert isinstance(caught.value, ProviderFailedError) and caught.value.partial_text == partial
    assert emu.counters.snapshot()["by_action"]["aipkit_frontend_chat_stream"] == 1


def test_stage_parse_prints_citations_and_the_response_id() -> None:
    done = cli("stage", "parse", str(FIXTURES / "cases" / "aipkit-responses-web-search-citations" / "answer.sse"),
               "--protocol", "aipkit")
    assert done.returncode == 0
    result = json.loads(done.stdout)
    assert result["citations"][0]["title"] == "Paris - Example Encyclopedia" and len(result["citations"]) == 1
    assert result["response_id"] == "resp_ws01"
