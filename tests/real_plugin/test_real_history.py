"""A three-turn conversation with text a site can mangle: what the site's model received, turn by turn, compared
with what the caller said (today's expectation: ``expectations.received_by_model``)."""

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
CASES = [(page, "chat") for page in PAGES] + [(PAGE["1.9.11 JSON"], "provider"), (PAGE["2.4.71 inline"], "provider")]


@pytest.mark.parametrize(("page", "style"), CASES, ids=[f"{page.name}-{style}" for page, style in CASES])
def test_three_turns_reach_the_model_as_pinned(stand: Stand, page: StandPage, style: str) -> None:
    mark = stand.model_mark()
    answers = run(converse(page.url, TURNS, style))
    requests = stand.model_requests_since(mark)

    assert len(requests) == len(TURNS)  # one model request per turn, none repeated
    prefix = SITE_PREFIX_ROLES[page.generation]
    said: list[tuple[str, str]] = []
    for turn, got, request in zip(TURNS, answers, requests, strict=True):
        said.append(("user", turn))
        received = chat_messages(request)
        assert [role for role, _ in received[: len(prefix)]] == list(prefix)
        assert received[len(prefix):] == received_by_model(page.generation, said)
        assert got == echo(turn, [*prefix, *(role for role, _ in said)])
        said.append(("assistant", got))
