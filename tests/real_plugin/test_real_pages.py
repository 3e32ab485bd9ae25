"""Every chat page of the real plugin: one message, the model's exact answer, streamed where the page streams;
the protocol generation detected; pages without a chat box; the command line."""

from __future__ import annotations

import pytest

import pipeline
from real_plugin.calls import answer, cli, detected_protocol, run, timed_answer, user
from real_plugin.expectations import PLAIN_PAGES, SITE_PREFIX_ROLES, echo
from real_plugin.stand import CHUNK_DELAY, PAGES, Stand, StandPage, chat_messages

pytestmark = pytest.mark.real_plugin
#: twenty-odd words: the fake model streams them one by one, so a stream lasts about a second
MESSAGE = "Count with me: " + " ".join(f"w{i}" for i in range(1, 21)) + " — ¿listo?"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_one_message_gets_the_models_exact_answer(stand: Stand, page: StandPage) -> None:
    mark = stand.model_mark()
    trace = pipeline.Trace()
    chunks = run(timed_answer(page.url, user(MESSAGE), trace))

    [request] = stand.model_requests_since(mark)  # the site asked its model once
    roles = (*SITE_PREFIX_ROLES[page.generation], "user")
    assert [role for role, _ in chat_messages(request)] == list(roles)
    assert chat_messages(request)[-1] == ("user", MESSAGE)
    assert "".join(text for _, text in chunks) == echo(MESSAGE, roles)
    assert detected_protocol(trace) == page.generation
    if not page.streamed:
        assert len(chunks) == 1
        return
    # The fake model sleeps CHUNK_DELAY before each space-separated piece of its answer, so it sends its last
    # piece at t + pieces * CHUNK_DELAY. The first chunk must reach the caller well before that.
    pieces = request["answer"].count(" ") + 1
    model_done = request["t"] + pieces * CHUNK_DELAY
    assert len(chunks) > 1
    assert chunks[0][0] < model_done - 3 * CHUNK_DELAY, (chunks[0][0] - request["t"], pieces * CHUNK_DELAY)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_the_command_line_asks_every_page(stand: Stand, page: StandPage) -> None:
    mark = stand.model_mark()
    done = cli("ask", "Hola, ¿qué tal? <b>\"bien\"</b>", "--url", page.url, "--system", "")
    roles = (*SITE_PREFIX_ROLES[page.generation], "user")
    assert (done.returncode, done.stdout, done.stderr) == (0, echo('Hola, ¿qué tal? <b>"bien"</b>', roles) + "\n", "")
    assert len(stand.model_requests_since(mark)) == 1


@pytest.mark.parametrize("url", sorted(PLAIN_PAGES))
def test_a_page_without_a_chat_box(stand: Stand, url: str) -> None:
    """Today's behaviour, pinned in expectations.PLAIN_PAGES; the trace says ``unknown`` either way."""
    mark = stand.model_mark()
    trace = pipeline.Trace()
    try:
        got = run(answer(url, "Hello there", trace))
        outcome = "answer"
        assert got == echo("Hello there", ("user", "user"))
    except pipeline.ChatGptEsError as error:
        outcome = type(error).__name__
        assert "\n" not in str(error)
    assert outcome == PLAIN_PAGES[url]
    assert detected_protocol(trace) == "unknown"
    assert len(stand.model_requests_since(mark)) == (1 if outcome == "answer" else 0)
