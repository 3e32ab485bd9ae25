"""Payload building: the POST form exactly as the real plugin's script sends it."""

from __future__ import annotations

import email.message
import email.parser
import json
import urllib.parse
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from stages.extract import extract_chatbox
from stages.models import ChatBox, Conversation, Extracted, HttpRequest, Stamp
from stages.payload import build_payload, encode_body, request_url, urlencode
from stages.prompt import format_prompt

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real"
CONVERSATION = Conversation(client_id="Lc9xQ2vT7k", session_id="5f0c2e1a-7b3d-4e9a-9c21-3d4e5f6a7b8c",
                            conversation_uuid="9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
STAMP = Stamp(now_ms=1795480540601, token="k3x9q")


def legacy_box(**changes: Any) -> ChatBox:
    box = ChatBox(protocol="legacy", markup="wpaicg-chat-shortcode", nonce=Extracted("f2949d091c", "wpaicg_container"),
                  post_id=Extracted("4", "wpaicg_container"), page_url="http://127.0.0.1:8080", bot_id="0",
                  box_type="shortcode", stream=False, ajax_url="http://127.0.0.1:8080/wp-admin/admin-ajax.php")
    return attrs.evolve(box, **changes)


def test_legacy_form_equals_the_real_capture() -> None:
    exchange = json.loads((REAL / "07-post-history-stream-off.exchange.json").read_text())
    page = (REAL / "01-get-front-stream-off.html").read_text()
    said = ["My name is Ana.", "Echo: My name is Ana.", "I live in Madrid.", "Echo: I live in Madrid.",
            "What is my name?"]
    messages = [{"role": ("user", "assistant")[i % 2], "content": text} for i, text in enumerate(said)]
    request = build_payload(format_prompt(messages), extract_chatbox(page), CONVERSATION,
                            "http://127.0.0.1:8080/wp-admin/admin-ajax.php", STAMP, "http://127.0.0.1:8080/")
    sent = dict(request.form)
    real = dict(exchange["request"]["form_fields"])
    assert [k for k, _ in request.form] == [k for k, _ in exchange["request"]["form_fields"]]
    history = [item["text"] for item in json.loads(real.pop("wpaicg_chat_history"))]
    assert json.loads(sent.pop("wpaicg_chat_history")) == history
    assert sent == real


def test_widget_and_custom_bot_get_their_own_action_and_identity() -> None:
    def fields(box: ChatBox) -> tuple[str | None, str | None, str | None]:
        request = build_payload(format_prompt([{"role": "user", "content": "x"}]), box, CONVERSATION, "e", STAMP, "s")
        return request.field("action"), request.field("bot_id"), request.field("chatbot_identity")

    assert fields(legacy_box()) == ("wpaicg_chat_shortcode_message", "0", "shortcode")
    assert fields(legacy_box(box_type="widget", markup="wpaicg-chatbox")) == ("wpaicg_chatbox_message", "0", "widget")
    assert fields(legacy_box(bot_id="42")) == ("wpaicg_chat_shortcode_message", "42", "custom_bot_42")
    assert fields(legacy_box(bot_id="7", box_type="widget")) == ("wpaicg_chatbox_message", "7", "custom_bot_7")


def test_aipkit_cache_post_and_stream_get_follow_the_sites_script() -> None:
    page = (REAL.parent / "real-aipkit" / "01-get-front-page.html").read_text()
    box = extract_chatbox(page)
    endpoint = "http://127.0.0.1:8081/wp-admin/admin-ajax.php"
    cache = build_payload(format_prompt([{"role": "user", "content": "Hello there"}]), box, CONVERSATION, endpoint,
                          STAMP, "http://127.0.0.1:8081/")
    assert cache.form == (("action", "aipkit_cache_sse_message"), ("message", "Hello there"),
                          ("_ajax_nonce", "3d8063e3c6"), ("bot_id", "5"),
                          ("user_client_message_id", "aipkit-client-msg-5-1795480540601-k3x9q"))
    from stages.aipkit import follow_up
    from stages.models import FollowUp

    stream = follow_up(FollowUp("aipkit_sse_0FfA3Qtgqk9tlazmxNgzPVVJBWAkjkvY"), box, CONVERSATION, endpoint,
                       Stamp(1795480540781, "x"))
    real = json.loads((REAL.parent / "real-aipkit" / "05-get-stream-message-1.exchange.json").read_text())
    assert request_url(stream) == real["request"]["url"]


fields = st.lists(st.tuples(st.text(min_size=1, max_size=10).filter(lambda k: "\x00" not in k), st.text(max_size=40)),
                  max_size=8)


@given(fields)
def test_urlencoded_form_round_trips(form: list[tuple[str, str]]) -> None:
    request = HttpRequest(method="POST", url="u", purpose="message", form=tuple(form))
    content_type, body = encode_body(request, "b")
    assert content_type.startswith("application/x-www-form-urlencoded")
    assert urllib.parse.parse_qsl(body.decode(), keep_blank_values=True) == form


tokens = st.text(alphabet="abcXYZ019_.~-+ %&=/\u00e9\n", max_size=12)


@given(st.lists(st.tuples(tokens | st.text(max_size=20), tokens | st.text(max_size=40)), max_size=8))
def test_urlencode_is_byte_for_byte_the_standard_librarys(form: list[tuple[str, str]]) -> None:
    """The fast path (a plain token goes unquoted) changes nothing: the same bytes as urllib's."""
    pairs = tuple(form)
    try:
        expected = urllib.parse.urlencode(pairs)
    except UnicodeEncodeError:  # a lone surrogate: both refuse it
        with pytest.raises(UnicodeEncodeError):
            urlencode(pairs)
        return
    assert urlencode(pairs) == expected


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-0123456789", min_size=1, max_size=12)


@given(st.lists(st.tuples(names, st.text(max_size=40)), min_size=1, max_size=8))
def test_multipart_form_round_trips(form: list[tuple[str, str]]) -> None:
    request = HttpRequest(method="POST", url="u", purpose="cache", form=tuple(form), encoding="multipart")
    content_type, body = encode_body(request, "----WebKitFormBoundaryAbc")
    message = email.parser.BytesParser().parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    parts = message.get_payload()
    assert isinstance(parts, list)
    decoded = []
    for part in parts:
        assert isinstance(part, email.message.Message)
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        decoded.append((part.get_param("name", header="content-disposition"), payload.decode()))
    assert decoded == form


boxes = st.builds(
    ChatBox,
    protocol=st.sampled_from(["legacy", "aipkit", "unknown"]),
    markup=st.sampled_from([None, "wpaicg-chat-shortcode", "wpaicg-chatbox", "aipkit_chat_container"]),
    nonce=st.builds(Extracted, st.text(max_size=12), st.just("fuzz")),
    post_id=st.builds(Extracted, st.text(max_size=6), st.just("fuzz")),
    page_url=st.none() | st.text(max_size=20),
    bot_id=st.none() | st.text(max_size=4),
    box_type=st.none() | st.sampled_from(["shortcode", "widget", "other"]),
)


@given(boxes, st.lists(st.text(max_size=30), min_size=1, max_size=5))
def test_payload_building_takes_any_page_values(box: ChatBox, said: list[str]) -> None:
    assume(said[-1].strip())  # a blank last message is refused before any payload (test_prompt)
    messages = [{"role": ("user", "assistant")[i % 2], "content": t} for i, t in enumerate(said[: len(said) // 2 * 2])]
    prompt = format_prompt([*messages, {"role": "user", "content": said[-1]}])
    request = build_payload(prompt, box, CONVERSATION, "https://site.test/wp-admin/admin-ajax.php", STAMP, "s")
    _, body = encode_body(request, "----b")
    assert request.method == "POST" and body
    assert request.field("bot_id") in {box.bot_id, "0"}
    sent = request.field("message") or ""
    assert said[-1] in sent


@given(st.binary(min_size=16, max_size=16))
def test_conversation_uuids_are_what_uuid4_makes_of_the_same_bytes(random16: bytes) -> None:
    import uuid

    from stages.payload import _uuid4

    assert _uuid4(random16) == str(uuid.UUID(bytes=random16, version=4))


def test_new_conversations_have_fresh_ids_of_the_expected_forms() -> None:
    import re
    import uuid

    from stages.payload import new_conversation

    first, second = new_conversation(), new_conversation()
    assert re.fullmatch(r"[0-9a-f]{10}", first.client_id)
    for value in (first.session_id, first.conversation_uuid):
        parsed = uuid.UUID(value)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == value
    assert len({first.session_id, first.conversation_uuid, second.session_id, second.conversation_uuid}) == 4
    assert first.client_id != second.client_id
