"""A three-turn conversation with text a site can mangle: what the site's model received, turn by turn, compared
with what the caller said (the expectation: ``expectations.received_by_model``), with each legacy history
strategy: ``auto`` (the default: here inline, since these turns do not survive the history field intact),
``structured`` (look-alikes) and ``inline`` (verbatim, in the seed's format)."""

from __future__ import annotations

import pytest

from real_plugin.calls import converse, run
from real_plugin.expectations import SITE_PREFIX_ROLES, echo, received_by_model
from real_plugin.stand import PAGE, PAGES, Stand, StandPage, chat_messages

pytestmark = pytest.mark.real_plugin

#: quotes, backslashes, line breaks, tags, %25 (an octet the 1.9.11 plugin removes) and non-ASCII
TURNS = (
    'She said "hi" and left. <b>bold</b> 100%25 sure',
    "line one\nline two\r\nC:\\temp\\new and a \\\" pair",
    "Ünïcödé 日本語 ✓ — ¿qué? <i>x</i> %41 \"done\" \\o/",
)
#: every page with pipeline.Chat; two of them also with create_async_generator and the whole history each time
CASES = ([(page, "chat", "auto") for page in PAGES]
         + [(PAGE["1.9.11 JSON"], "provider", "auto"), (PAGE["2.4.71 inline"], "provider", "auto")]
         + [(PAGE[name], style, history) for name in ("1.9.11 JSON", "1.9.11 stream")
            for style in ("chat", "provider") for history in ("structured", "inline")])


@pytest.mark.parametrize(("page", "style", "history"), CASES,
                         ids=[f"{page.name}-{style}-{history}" for page, style, history in CASES])
def test_three_turns_reach_the_model_as_pinned(stand: Stand, page: StandPage, style: str, history: str) -> None:
    mark = stand.model_mark()
    answers = run(converse(page.url, TURNS, style, history))
    requests = stand.model_requests_since(mark)

    assert len(requests) == len(TURNS)  # one model request per turn, none repeated
    prefix = SITE_PREFIX_ROLES[page.generation]
    said: list[tuple[str, str]] = []
    for turn, got, request in zip(TURNS, answers, requests, strict=True):
        said.append(("user", turn))
        received = chat_messages(request)
        assert [role for role, _ in received[: len(prefix)]] == list(prefix)
        expected = received_by_model(page.generation, said, history)
        assert received[len(prefix):] == expected
        assert got == echo(expected[-1][1], [*prefix, *(role for role, _ in expected)])
        said.append(("assistant", got))
