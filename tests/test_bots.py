"""The right bot: pages with several chat boxes (two bots, the same bot twice; legacy and AIPKit), chosen by id,
end to end against the local site, in Python and on the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import cli, site_args
from conftest import StartEmulator, http
from e2e_helpers import collect, new_client, provider_for, run

import pipeline
from chatgpt_es.emulator import Emulator
from stages.errors import BotNotFoundError, ChatGptEsError


def answer(emu: Emulator, text: str, trace: pipeline.Trace | None = None, **kwargs: Any) -> str:
    async def body() -> list[str]:
        async with new_client(emu) as client:
            return await collect(provider_for(emu).create_async_generator(
                "gpt-4o", [{"role": "user", "content": text}], client=client, system_prompt="", trace=trace,
                **kwargs))

    return "".join(run(body()))


def test_two_aipkit_bots_the_first_by_default_the_other_by_id(start_emulator: StartEmulator) -> None:
    emu = start_emulator(generation="aipkit", page="two-bots")
    trace = pipeline.Trace()
    assert answer(emu, "Hi", trace) == "Echo: Hi"
    assert emu.last_form["bot_id"] == "5"
    extract = next(r for r in trace.records if r.stage == "extract")
    assert extract.facts()["output"]["boxes"] == [
        {"id": "5", "name": "Local Test Bot", "protocol": "aipkit"},
        {"id": "9", "name": "Stand Second Bot", "protocol": "aipkit"},
    ]
    assert answer(emu, "Hi nine", bot_id=9) == "Echo: Hi nine"
    assert emu.last_form["bot_id"] == "9"
    assert {key[0] for key in emu.conversations} == {5, 9}


def test_a_chat_with_the_second_bot_keeps_its_own_thread(start_emulator: StartEmulator) -> None:
    emu = start_emulator(generation="aipkit", page="two-bots")

    async def body() -> list[str]:
        async with new_client(emu) as client:
            chat = pipeline.Chat(client, pipeline.Site(url=emu.base_url + "/"), bot_id="9")
            return [await chat.say("one"), await chat.say("two")]

    assert run(body()) == ["Echo: one", "Echo: two (after 2 earlier turns)"]
    [(key, thread)] = emu.conversations.items()
    assert key[0] == 9 and [t.content for t in thread if t.role == "user"] == ["one", "two"]


def test_an_id_not_on_the_page_is_refused_with_the_ids_there_before_any_post(start_emulator: StartEmulator) -> None:
    emu = start_emulator(generation="aipkit", page="two-bots")
    with pytest.raises(BotNotFoundError) as caught:
        answer(emu, "Hi", bot_id="7")
    assert caught.value.available == ("5", "9")
    assert "5, 9" in str(caught.value) and isinstance(caught.value, ValueError)
    assert emu.counters.snapshot()["post"] == 0


def test_the_same_bot_twice_is_listed_twice_and_answers(start_emulator: StartEmulator) -> None:
    emu = start_emulator(generation="aipkit", page="same-bot-twice")
    trace = pipeline.Trace()
    assert answer(emu, "Hi", trace, bot_id=5) == "Echo: Hi"
    extract = next(r for r in trace.records if r.stage == "extract")
    assert [b["id"] for b in extract.facts()["output"]["boxes"]] == ["5", "5"]


@pytest.mark.parametrize("stream", [False, True])
def test_a_legacy_page_with_two_containers(start_emulator: StartEmulator, stream: bool) -> None:
    emu = start_emulator(page="two-bots", bot_id=42, stream=stream)
    assert answer(emu, "Hi") == "Echo: Hi"
    assert (emu.last_form["bot_id"], emu.last_form["chatbot_identity"]) == ("0", "shortcode")
    assert answer(emu, "Hi bot", bot_id=42) == "Echo: Hi bot"
    assert (emu.last_form["bot_id"], emu.last_form["chatbot_identity"]) == ("42", "custom_bot_42")
    with pytest.raises(ChatGptEsError, match="bots there: 0, 42"):
        answer(emu, "Hi", bot_id=41)


def test_cli_bot_option_and_stage_extract_bot(start_emulator: StartEmulator, tmp_path: Path) -> None:
    emu = start_emulator(generation="aipkit", page="two-bots")
    done = cli("ask", "Hola", *site_args(emu), "--bot", "9")
    assert (done.returncode, done.stdout) == (0, "Echo: Hola\n")
    assert emu.last_form["bot_id"] == "9"
    page = tmp_path / "page.html"
    page.write_bytes(http("GET", emu.base_url + "/").body)
    done = cli("stage", "extract", str(page), "--bot", "9")
    assert done.returncode == 0 and '"bot_id": "9"' in done.stdout and '"name": "Stand Second Bot"' in done.stdout
    done = cli("stage", "extract", str(page), "--bot", "7")
    assert done.returncode == 1 and "BotNotFoundError" in done.stderr and "5, 9" in done.stderr
    done = cli("trace", "Hola", *site_args(emu), "--bot", "9")
    assert "2 chat boxes: bot 5 'Local Test Bot' (aipkit), bot 9 'Stand Second Bot' (aipkit)" in done.stdout
    assert "choose" in done.stdout


@pytest.mark.parametrize("config", [{"generation": "aipkit", "page": "two-bots"},
                                    {"page": "two-bots", "bot_id": 42}])
def test_record_with_a_bot_saves_a_case_that_replays_the_chosen_box(start_emulator: StartEmulator, tmp_path: Path,
                                                                   config: dict[str, Any]) -> None:
    emu = start_emulator(**config)
    bot = "9" if config.get("generation") == "aipkit" else "42"
    target = tmp_path / "recorded"
    done = cli("record", "two", "Hello", *site_args(emu), "--bot", bot, "--into", str(target))
    assert done.returncode == 0, done.stderr
    case = json.loads((target / "case.json").read_text(encoding="utf-8"))
    expected = json.loads((target / "expected.json").read_text(encoding="utf-8"))
    assert case["bot"] == bot and expected["choose"]["bot_id"] == bot
    assert emu.last_form["bot_id"] == bot
    assert cli("regress", str(target)).stdout.splitlines()[-1] == "1 cases, 0 mismatches"


def test_record_refuses_the_site_key_and_diagnose_uses_it(start_emulator: StartEmulator, tmp_path: Path) -> None:
    key = "aipk_live_" + "3" * 48
    emu = start_emulator(generation="aipkit", rest_key=key, plain_permalinks=True)
    done = cli("record", "rest", "Hello", *site_args(emu), "--site-key", key, "--into", str(tmp_path / "r"))
    assert done.returncode == 2 and "does not record REST API" in done.stderr and not (tmp_path / "r").exists()
    done = cli("diagnose", *site_args(emu), "--site-key", key)
    assert done.returncode == 0, done.stdout
    assert "Echo: Hello [2 msgs: system,user]" in done.stdout and key not in done.stdout
