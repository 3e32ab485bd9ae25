"""Two bots on one page of the real 2.4.71 plugin (``set.php create-bot`` + ``set.php page`` with two
``[aipkit_chatbot id=…]``): the trace lists both chat boxes, the first answers by default, ``bot_id=`` reaches the
second (the model gets that bot's own instructions and only its thread), and an id not on the page is refused
with the ids there before anything is sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import pipeline
from real_plugin.calls import cli, provider_for, run, user
from real_plugin.expectations import echo
from real_plugin.stand import INLINE_BOT, Stand, chat_messages
from stages.errors import BotNotFoundError

pytestmark = pytest.mark.real_plugin

URL = "http://127.0.0.1:8082/two-bots/"
PORT = 8082
SECOND_TITLE = "Stand Second Bot"
SECOND_PROMPT = "You are the stand's second bot: say \"two\" <b>twice</b>."


@pytest.fixture(scope="module")
def second_bot(stand: Stand) -> Iterator[int]:
    """The second bot (created once; ``create-bot`` finds it again by title) with its own instructions, on the
    page ``/two-bots/`` after the inline bot; its instructions restored afterwards."""
    bot = int(stand.wp24("create-bot", SECOND_TITLE)["bot_id"])
    assert bot != INLINE_BOT
    stand.wp24("page", "two-bots", "Two bots", f"[aipkit_chatbot id={INLINE_BOT}]\n\n[aipkit_chatbot id={bot}]")
    with stand.bot_meta(bot, "_aipkit_instructions", SECOND_PROMPT):
        yield bot


def instructions(stand: Stand, bot: int) -> str:
    """A bot's instructions up to ``[date]`` (the site expands that to today's date)."""
    return str(stand.wp24("getmeta", str(bot), "_aipkit_instructions")["_aipkit_instructions"]).split("[date]")[0]


async def ask(text: str, trace: pipeline.Trace, **kwargs: Any) -> str:
    async with pipeline.Client() as client:  # a fresh client: the page is fetched (and extracted) each time
        return "".join([chunk async for chunk in provider_for(URL).create_async_generator(
            "gpt-4o", user(text), system_prompt="", client=client, trace=trace, **kwargs)])


def boxes(trace: pipeline.Trace) -> list[dict[str, str]]:
    extract = next(record for record in trace.records if record.stage == "extract")
    return list(extract.facts()["output"]["boxes"])


def test_the_trace_lists_both_boxes_and_the_first_answers_by_default(stand: Stand, second_bot: int) -> None:
    mark, trace = stand.model_mark(), pipeline.Trace()
    got = run(ask("Who answers? <i>¿uno?</i>", trace))

    assert boxes(trace) == [{"id": str(INLINE_BOT), "name": "Stand Inline Bot", "protocol": "aipkit"},
                            {"id": str(second_bot), "name": SECOND_TITLE, "protocol": "aipkit"}]
    [request] = stand.model_requests_since(mark)
    (role, system), said = chat_messages(request)
    assert role == "system" and system.startswith(instructions(stand, INLINE_BOT)) and system != SECOND_PROMPT
    assert said == ("user", "Who answers? <i>¿uno?</i>")
    assert got == echo(said[1], ["system", "user"])


def test_bot_id_picks_the_second_bot_with_its_own_instructions(stand: Stand, second_bot: int) -> None:
    mark, trace = stand.model_mark(), pipeline.Trace()
    got = run(ask("Who answers? ¿dos?", trace, bot_id=second_bot))

    [request] = stand.model_requests_since(mark)
    assert chat_messages(request) == [("system", SECOND_PROMPT), ("user", "Who answers? ¿dos?")]
    assert got == echo("Who answers? ¿dos?", ["system", "user"])
    payload = next(record for record in trace.records if record.stage == "payload")
    assert payload.facts()["output"]["fields"]["bot_id"] == str(second_bot)


def test_each_bot_keeps_its_own_thread(stand: Stand, second_bot: int) -> None:
    """One client, one chat per bot, turns interleaved: each bot's model request replays only its own turns."""
    async def body() -> None:
        async with pipeline.Client() as client:
            first = pipeline.Chat(client, pipeline.Site(url=URL, system_prompt=""))
            second = pipeline.Chat(client, pipeline.Site(url=URL, system_prompt=""), bot_id=str(second_bot))
            for chat, text in ((first, "one for six"), (second, "one for the second"),
                               (first, "two for six"), (second, "two for the second")):
                await chat.say(text)

    mark = stand.model_mark()
    run(body())
    requests = stand.model_requests_since(mark)
    assert len(requests) == 4
    last = chat_messages(requests[3])
    assert last[0] == ("system", SECOND_PROMPT)
    assert [text for role, text in last if role == "user"] == ["one for the second", "two for the second"]
    assert [text for role, text in chat_messages(requests[2]) if role == "user"] == ["one for six", "two for six"]


def test_an_id_not_on_the_page_is_refused_with_the_ids_there_before_any_post(stand: Stand, second_bot: int) -> None:
    mark, served, trace = stand.model_mark(), stand.access_mark(PORT), pipeline.Trace()
    with pytest.raises(BotNotFoundError) as caught:
        run(ask("Hello?", trace, bot_id=second_bot + 1000))

    assert caught.value.available == (str(INLINE_BOT), str(second_bot))
    assert f"bots there: {INLINE_BOT}, {second_bot}" in str(caught.value)
    assert stand.served_since(PORT, served, "POST ") == 0 and stand.model_requests_since(mark) == []


def test_the_command_line_bot_option(stand: Stand, second_bot: int) -> None:
    mark = stand.model_mark()
    done = cli("ask", "Hola segundo", "--url", URL, "--system", "", "--bot", str(second_bot))
    assert (done.returncode, done.stdout, done.stderr) == (0, echo("Hola segundo", ["system", "user"]) + "\n", "")
    [request] = stand.model_requests_since(mark)
    assert chat_messages(request)[0] == ("system", SECOND_PROMPT)
