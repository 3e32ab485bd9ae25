"""Prompt formatting: messages → Prompt, and the history's survival of the legacy site's decoder."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stages.errors import InvalidMessagesError
from stages.prompt import format_prompt, site_safe

texts = st.text(max_size=80)
roles = st.sampled_from(["user", "assistant"])


def conversation_strategy() -> st.SearchStrategy[list[dict[str, Any]]]:
    earlier = st.lists(st.tuples(roles, texts), max_size=6)
    last_message = texts.filter(lambda text: bool(text.strip()))  # a blank last message is refused (tested below)
    return earlier.flatmap(lambda turns: last_message.map(
        lambda last: [{"role": r, "content": t} for r, t in turns] + [{"role": "user", "content": last}]))


def test_single_message_is_sent_after_the_system_prompt() -> None:
    prompt = format_prompt([{"role": "user", "content": "Hello"}], "Be brief.")
    assert prompt.text == "Be brief. Hello"
    assert prompt.turns == () and prompt.history_lines == ()
    assert prompt.inline_text == "Be brief. Hello"


def test_earlier_turns_go_to_the_history_not_into_the_message() -> None:
    prompt = format_prompt([
        {"role": "system", "content": "Answer in Spanish."},
        {"role": "user", "content": "My name is Ana."},
        {"role": "assistant", "content": "Hola Ana."},
        {"role": "user", "content": "What is my name?"},
    ])
    assert prompt.message == "What is my name?"
    assert prompt.text == "Answer in Spanish. What is my name?"
    assert prompt.history_lines == ("Human: My name is Ana.", "AI: Hola Ana.")
    assert prompt.inline_text == (
        "Answer in Spanish. User: My name is Ana.\nAssistant: Hola Ana.\nUser: What is my name?\nAssistant:"
    )


def test_content_parts_are_accepted() -> None:
    parts = [{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}]
    prompt = format_prompt([{"role": "user", "content": parts}])
    assert prompt.message == "Hello"


@pytest.mark.parametrize(("messages", "where"), [
    ("hello", "messages must be a list"),
    ([], "messages is empty"),
    ([{"content": "x"}], "messages[0] has no role"),
    ([{"role": "user"}], "messages[0] has no content"),
    ([{"role": "robot", "content": "x"}], "messages[0].role is 'robot'"),
    ([{"role": "user", "content": 5}], "messages[0].content is int"),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}], "messages[0].content[0]"),
    ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "messages[1] is a 'assistant'"),
    ([{"role": "user", "content": "a"}, "b"], "messages[1] is str"),
])
def test_bad_messages_get_a_typed_error_naming_the_item(messages: Any, where: str) -> None:
    with pytest.raises(InvalidMessagesError) as caught:
        format_prompt(messages)
    assert where in str(caught.value)
    assert isinstance(caught.value, ValueError)


@given(conversation_strategy())
def test_every_message_text_is_kept(messages: list[dict[str, Any]]) -> None:
    prompt = format_prompt(messages, "SYS")
    assert prompt.message == messages[-1]["content"]
    assert [t.text for t in prompt.turns] == [m["content"] for m in messages[:-1]]
    assert len(prompt.history_lines) == len(messages) - 1


# The real plugin's handling of the history field (PROTOCOL.md §2): sanitize_textarea_field
# (tags and %xx octets removed), then every backslash deleted, then json_decode.
def plugin_decode(field: str) -> list[str] | None:
    text = re.sub(r"<[^>]*>", "", field)
    while re.search(r"%[a-fA-F0-9]{2}", text):
        text = re.sub(r"%[a-fA-F0-9]{2}", "", text)
    text = text.strip().replace("\\", "")
    try:
        decoded = json.loads(text)
    except ValueError:
        return None
    return decoded if isinstance(decoded, list) else None


@given(conversation_strategy())
def test_history_survives_the_sites_decoder_turn_for_turn(messages: list[dict[str, Any]]) -> None:
    prompt = format_prompt(messages)
    field = json.dumps(list(prompt.history_lines), ensure_ascii=False)
    assert plugin_decode(field) == list(prompt.history_lines)


@given(texts)
def test_site_safe_changes_only_what_cannot_survive(text: str) -> None:
    safe, count = site_safe(text)
    assert json.dumps(safe, ensure_ascii=False)[1:-1] == safe  # nothing JSON would escape
    assert "<" not in safe and not re.search(r"%[0-9a-fA-F]{2}", safe)
    if count == 0:
        assert safe == text


def test_replacements_are_visible_and_minimal() -> None:
    safe, count = site_safe('say "hi"\\n <b>100%20</b>\r\nend\ttab\x07')
    assert safe == "say \u201dhi\u201d\uff3cn \uff1cb\uff1e100\uff0520\uff1c/b\uff1e\u2028end tab\u2407"
    assert count == 11


@pytest.mark.parametrize("blank", ["", "   ", "\n\t ", [{"type": "text", "text": " "}]])
def test_a_blank_last_message_is_refused_before_any_request(blank: Any) -> None:
    with pytest.raises(InvalidMessagesError, match=r"messages\[1\] is blank"):
        format_prompt([{"role": "assistant", "content": "Hi"}, {"role": "user", "content": blank}])
