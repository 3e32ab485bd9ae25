"""The conversation as the site's model sees it, end to end against the local site: AIPKit gets the system prompt
with the first message of a server-kept conversation only; legacy sites get the earlier turns structured
(wpaicg_chat_history, look-alikes) or inline (verbatim in the message), chosen automatically or by the caller."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cli_helpers import cli, site_args
from conftest import StartEmulator
from e2e_helpers import new_client, run

import pipeline
from chatgpt_es.emulator import Emulator
from stages.errors import InvalidArgumentError
from stages.prompt import format_prompt

CODE = 'print("a\\\\b")\n<b>x</b> 100%20'


def chat_with(emu: Emulator, texts: list[str], **site: Any) -> list[str]:
    async def body() -> list[str]:
        async with new_client(emu) as client:
            chat = pipeline.Chat(client, pipeline.Site(url=emu.base_url + "/", **{"system_prompt": "", **site}))
            return [await chat.say(text) for text in texts]

    return run(body())


def test_aipkit_the_system_prompt_goes_with_the_first_message_only(start_emulator: StartEmulator) -> None:
    emu = start_emulator(generation="aipkit")
    chat_with(emu, ["one", "two", "three"], system_prompt="Be brief.")
    [thread] = emu.conversations.values()
    assert [t.content for t in thread if t.role == "user"] == ["Be brief. one", "two", "three"]
    assert emu.last_form["message"] == "three"


def test_legacy_auto_plain_turns_travel_structured(legacy_site: Emulator) -> None:
    answers = chat_with(legacy_site, ["one", "two"])
    assert answers[1] == "Echo: two (after 2 earlier turns)"
    assert legacy_site.last_form["message"] == "two"
    assert legacy_site.last_history == [("user", "one"), ("assistant", "Echo: one")]


def test_legacy_auto_a_turn_with_code_makes_the_conversation_inline_and_verbatim(legacy_site: Emulator) -> None:
    chat_with(legacy_site, [CODE, "and now?"])
    assert legacy_site.last_form["wpaicg_chat_history"] == "[]"
    assert legacy_site.last_form["message"] == (
        f"User: {CODE}\nAssistant: Echo: {CODE}\nUser: and now?\nAssistant:")  # every character as written
    assert legacy_site.last_history == []


def test_legacy_inline_on_request_even_for_plain_turns(legacy_site: Emulator) -> None:
    chat_with(legacy_site, ["one", "two"], history="inline", system_prompt="Sys.")
    assert legacy_site.last_form["message"] == "Sys. User: one\nAssistant: Echo: Sys. one\nUser: two\nAssistant:"


def test_legacy_structured_on_request_uses_look_alikes(legacy_site: Emulator) -> None:
    chat_with(legacy_site, [CODE, "and now?"], history="structured")
    assert legacy_site.last_form["message"] == "and now?"
    [(role, text), _] = legacy_site.last_history
    assert role == "user" and text == "print(\u201da\uff3c\uff3cb\u201d)\u2028\uff1cb\uff1ex\uff1c/b\uff1e 100\uff0520"


def test_a_strategy_that_does_not_exist_is_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        pipeline.Chat(pipeline.Client(), pipeline.Site(url="http://127.0.0.1:9/"), history="smart")
    with pytest.raises(InvalidArgumentError):
        format_prompt([{"role": "user", "content": "x"}], history="smart")


def test_cli_history_option(legacy_site: Emulator) -> None:
    done = cli("stage", "prompt", "-", stdin=json.dumps([{"role": "user", "content": "a\"b"},
                                                         {"role": "assistant", "content": "ok"},
                                                         {"role": "user", "content": "c"}]))
    assert json.loads(done.stdout)["history"] == "inline"
    done = cli("ask", "hi", *site_args(legacy_site), "--history", "inline")
    assert done.returncode == 0 and legacy_site.last_form["message"] == "hi"  # one message: nothing to inline
