"""The emulator's AIPKit generation (AI Power 2.4.71) against PROTOCOL-aipkit.md and the real captures."""

from __future__ import annotations

import html
import json
import re
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import (
    AIPKIT_CAPTURES,
    AJAX,
    FakeClock,
    StartEmulator,
    as_served,
    http,
    load_exchange,
    mask_error_ids,
    parse_sse,
)

from chatgpt_es.emulator import Emulator
from chatgpt_es.emulator.state import CacheEntry

CAPTURE_NONCE = "3d8063e3c6"
CAPTURE_ORIGIN = "http://127.0.0.1:8081"
SESSION = "5f0c2e1a-7b3d-4e9a-9c21-3d4e5f6a7b8c"
CONVERSATION = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
MESSAGE_ID = re.compile(rb'\{"message_id":"aipkit-msg-[0-9a-f]{14}\.\d{8}"\}')
PREAMBLE = b":" + b" " * 4096 + b"\n\n"


def site_text(text: str, emu: Emulator) -> str:
    """A capture's text as this emulated site would show it (its nonce and its origin in every spelling)."""
    return as_served(text, emu, CAPTURE_NONCE, CAPTURE_ORIGIN)


def cache(emu: Emulator, message: str, *, multipart: bool = True, **extra: str) -> Any:
    form = {"action": "aipkit_cache_sse_message", "message": message, "_ajax_nonce": emu.current_nonce(),
            "bot_id": "5", "user_client_message_id": "aipkit-client-msg-5-1795480540601-k3x9q", **extra}
    return http("POST", emu.base_url + AJAX, form=form, as_multipart=multipart,
                headers={"Origin": emu.base_url, "Referer": emu.base_url + "/"})


def stream(emu: Emulator, cache_key: str | None = None, **overrides: str | None) -> Any:
    params: dict[str, str | None] = {
        "action": "aipkit_frontend_chat_stream", "cache_key": cache_key, "bot_id": "5",
        "session_id": SESSION, "conversation_uuid": CONVERSATION, "post_id": "6",
        "_ts": "1795480540781", "_ajax_nonce": emu.current_nonce(), **overrides,
    }
    query = urlencode([(k, v) for k, v in params.items() if v is not None])
    return http("GET", f"{emu.base_url}{AJAX}?{query}",
                headers={"Accept": "text/event-stream", "Cache-Control": "no-cache"})


def ask(emu: Emulator, message: str, **kwargs: Any) -> Any:
    key = cache(emu, message).json()["data"]["cache_key"]
    return stream(emu, key, **kwargs)


def deltas(body: bytes) -> str:
    return "".join(json.loads(e.data)["delta"] for e in parse_sse(body) if e.event is None)


def capture_body(name: str) -> bytes:
    return (AIPKIT_CAPTURES / name).read_bytes()


# --- page and nonce refresh -----------------------------------------------------------------------------


def test_page_is_the_capture_with_this_sites_nonce_and_url(aipkit_site: Emulator) -> None:
    answer = http("GET", aipkit_site.base_url + "/")
    capture = (AIPKIT_CAPTURES / "01-get-front-page.html").read_text(encoding="utf-8")
    assert answer.status == 200 and answer.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert answer.text == site_text(capture, aipkit_site)
    match = re.search(r"data-config='([^']*)'", answer.text)
    assert match is not None
    config = json.loads(html.unescape(match.group(1)))
    assert config["nonce"] == aipkit_site.current_nonce() and config["botId"] == 5 and config["postId"] == 6
    assert config["ajaxUrl"] == aipkit_site.base_url + AJAX
    assert "127.0.0.1:8081" not in answer.text and answer.text.count(aipkit_site.current_nonce()) == 1


def test_nonce_refresh_endpoint(aipkit_site: Emulator, fake_clock: FakeClock) -> None:
    form = {"action": "aipkit_get_frontend_chat_nonce", "bot_id": "5"}
    answer = http("POST", aipkit_site.base_url + AJAX, form=form, as_multipart=True)
    assert answer.body == site_text(capture_body("03-post-get-frontend-chat-nonce.body.json").decode(),
                                    aipkit_site).encode()
    assert answer.headers["Cache-Control"] == "no-cache, must-revalidate, max-age=0"
    assert answer.headers["Expires"] == "Wed, 11 Jan 1984 05:00:00 GMT"
    old = aipkit_site.current_nonce()
    fake_clock.advance(86400 * 2)
    fresh = http("POST", aipkit_site.base_url + AJAX, form=form).json()["data"]["nonce"]
    assert fresh == aipkit_site.current_nonce() != old
    assert cache(aipkit_site, "x", _ajax_nonce=old).status == 403
    assert cache(aipkit_site, "x", _ajax_nonce=fresh).status == 200


# --- the cache POST -------------------------------------------------------------------------------------


def test_cache_post_multipart_and_urlencoded(aipkit_site: Emulator, fake_clock: FakeClock) -> None:
    for multipart in (True, False):
        answer = cache(aipkit_site, "Hello there", multipart=multipart)
        assert answer.status == 200 and answer.headers["Content-Type"] == "application/json; charset=UTF-8"
        assert re.fullmatch(rb'\{"success":true,"data":\{"cache_key":"aipkit_sse_[A-Za-z0-9]{32}"\}\}',
                            answer.body)
        entry = aipkit_site.cache[answer.json()["data"]["cache_key"]]
        assert (entry.message, entry.bot_id, entry.created) == ("Hello there", "5", fake_clock.now)
    assert aipkit_site.last_form["user_client_message_id"] == "aipkit-client-msg-5-1795480540601-k3x9q"


@pytest.mark.parametrize(("capture", "status"), [
    ("11-post-cache-bad-nonce", 403), ("12-post-cache-no-nonce", 403), ("19-post-cache-empty-message", 400),
    ("22-post-unknown-action", 400),
])
def test_capture_replay_is_byte_equal(aipkit_site: Emulator, capture: str, status: int) -> None:
    exchange = load_exchange(AIPKIT_CAPTURES / f"{capture}.exchange.json")
    form = [(k, site_text(v, aipkit_site)) for k, v in exchange["request"]["form_fields"]]
    answer = http("POST", aipkit_site.base_url + AJAX, form=form, as_multipart=True,
                  headers={"Origin": aipkit_site.base_url})
    assert answer.status == status == exchange["response"]["status"]
    assert answer.body == capture_body(exchange["response"]["body_file"])
    captured = dict(exchange["response"]["headers"])
    assert answer.headers["Content-Type"] == captured["Content-Type"]


def test_zero_answers(aipkit_site: Emulator) -> None:
    for form in ({"action": "wpaicg_chat_shortcode_message", "message": "x"}, {"message": "x"}, None):
        answer = http("POST" if form else "GET", aipkit_site.base_url + AJAX, form=form)
        assert (answer.status, answer.body) == (400, b"0")
        assert answer.headers["Content-Type"] == "text/html; charset=UTF-8"


def test_embed_not_available_for_a_foreign_origin(aipkit_site: Emulator) -> None:
    port = aipkit_site.base_url.rsplit(":", 1)[1]
    form = {"action": "aipkit_cache_sse_message", "message": "x", "_ajax_nonce": aipkit_site.current_nonce(),
            "bot_id": "5"}
    for origin, status in (("http://localhost:" + port, 403), ("https://127.0.0.1:" + port, 403),
                           ("http://127.0.0.1:1", 200), ("null", 403)):
        answer = http("POST", aipkit_site.base_url + AJAX, form=form, headers={"Origin": origin})
        assert answer.status == status, origin
        if status == 403:
            assert answer.body == (b'{"success":false,"data":{"message":"Embed feature is not available with'
                                   b' your current plan.","code":"embed_not_available"}}')
    # no Origin at all (a server-side client) is fine; a bad nonce is reported before the origin
    assert http("POST", aipkit_site.base_url + AJAX, form=form).status == 200
    form["_ajax_nonce"] = "0123456789"
    bad = http("POST", aipkit_site.base_url + AJAX, form=form, headers={"Origin": "http://localhost"})
    assert bad.json()["data"]["code"] == "nonce_failure_cache_sse"


# --- the stream -----------------------------------------------------------------------------------------


def test_stream_matches_capture_05(aipkit_site: Emulator) -> None:
    answer = ask(aipkit_site, "Hello there")
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-cache, no-store, must-revalidate, max-age=0, no-transform"
    assert answer.headers["Pragma"] == "no-cache" and answer.headers["X-Accel-Buffering"] == "no"
    assert "Content-Length" not in answer.headers
    assert answer.body.startswith(PREAMBLE)
    assert len(MESSAGE_ID.findall(answer.body)) == 1
    expected = capture_body("05-get-stream-message-1.body.sse")
    assert MESSAGE_ID.sub(b"ID", answer.body) == MESSAGE_ID.sub(b"ID", expected)


def test_stream_pieces_match_capture_07(aipkit_site: Emulator) -> None:
    answer = ask(aipkit_site, "What did I just say?", conversation_uuid=str(uuid.uuid4()))
    expected = capture_body("07-get-stream-message-2-history.body.sse")
    assert MESSAGE_ID.sub(b"ID", answer.body) == MESSAGE_ID.sub(b"ID", expected)


@pytest.mark.parametrize(("capture", "overrides"), [
    ("26-get-stream-bad-nonce", {"_ajax_nonce": "0123456789"}),
    ("29-get-stream-missing-cache-key", {"cache_key": None}),
    ("30-get-stream-unknown-cache-key", {"cache_key": "aipkit_sse_ThisKeyWasNeverIssuedByServer00"}),
    ("33-get-stream-missing-conversation-uuid", {"conversation_uuid": None}),
    ("35-get-stream-missing-session-id", {"session_id": None}),
])
def test_stream_errors_match_captures(
    aipkit_site: Emulator, fake_clock: FakeClock, capture: str, overrides: dict[str, str | None]
) -> None:
    key = cache(aipkit_site, "Hello there").json()["data"]["cache_key"]
    params: dict[str, str | None] = {"cache_key": key, "conversation_uuid": str(uuid.uuid4()), **overrides}
    answer = stream(aipkit_site, **params)
    assert answer.status == 200 and answer.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert mask_error_ids(answer.body) == mask_error_ids(capture_body(f"{capture}.body.sse"))
    assert f"id: err-{int(fake_clock.now)}\n".encode() in answer.body


def test_stream_error_messages_without_captures(aipkit_site: Emulator, fake_clock: FakeClock) -> None:
    def error_of(answer: Any) -> str:
        events = parse_sse(answer.body)
        assert [e.event for e in events] == ["error", "done"]
        message: str = json.loads(events[0].data)["error"]
        return message

    key = cache(aipkit_site, "x").json()["data"]["cache_key"]
    assert error_of(stream(aipkit_site, key, session_id="")) == "Session ID is missing for guest."
    key = cache(aipkit_site, "x").json()["data"]["cache_key"]
    assert error_of(stream(aipkit_site, key, bot_id="6")) == "Invalid chatbot specified."
    # the failure above consumed the entry
    assert error_of(stream(aipkit_site, key)) == "Message not found in cache."
    key = cache(aipkit_site, "x").json()["data"]["cache_key"]
    fake_clock.advance(60.5)
    assert error_of(stream(aipkit_site, key)) == "Cached message has expired."
    key = cache(aipkit_site, "x [[token-limit]]").json()["data"]["cache_key"]
    assert error_of(stream(aipkit_site, key)) == "You have reached your token limit."


def test_cache_entry_is_single_use_and_survives_a_nonce_failure(aipkit_site: Emulator) -> None:
    key = cache(aipkit_site, "Hello there").json()["data"]["cache_key"]
    assert b"Security check failed." in stream(aipkit_site, key, _ajax_nonce="0123456789").body
    assert deltas(stream(aipkit_site, key).body) == "Echo: Hello there"
    assert b"Message not found in cache." in stream(aipkit_site, key).body
    snapshot = aipkit_site.counters.snapshot()
    assert snapshot["by_outcome"]["cache_miss"] == 1 and snapshot["by_outcome"]["stream"] == 1


def test_small_cache_ttl(start_emulator: StartEmulator, fake_clock: FakeClock) -> None:
    emu = start_emulator(clock=fake_clock, generation="aipkit", cache_ttl=5.0)
    first = cache(emu, "a").json()["data"]["cache_key"]
    second = cache(emu, "b").json()["data"]["cache_key"]
    fake_clock.advance(4.0)
    assert deltas(stream(emu, first).body) == "Echo: a"
    fake_clock.advance(2.0)
    assert b"Cached message has expired." in stream(emu, second).body
    assert b"Message not found in cache." in stream(emu, second).body


def test_server_keeps_the_conversation(aipkit_site: Emulator, fake_clock: FakeClock) -> None:
    ids = []
    for message, expected in (("Hello there", "Echo: Hello there"),
                              ("What did I just say?", "Echo: What did I just say? (after 2 earlier turns)"),
                              ("Third", "Echo: Third (after 4 earlier turns)")):
        answer = ask(aipkit_site, message)
        assert deltas(answer.body) == expected
        ids.append(json.loads(parse_sse(answer.body)[0].data)["message_id"])
        fake_clock.advance(1)
    thread = aipkit_site.conversations[(5, SESSION, CONVERSATION)]
    assert [(t.role, t.content) for t in thread] == [
        ("user", "Hello there"), ("bot", "Echo: Hello there"),
        ("user", "What did I just say?"), ("bot", "Echo: What did I just say? (after 2 earlier turns)"),
        ("user", "Third"), ("bot", "Echo: Third (after 4 earlier turns)"),
    ]
    assert deltas(ask(aipkit_site, "New", conversation_uuid=str(uuid.uuid4())).body) == "Echo: New"
    assert deltas(ask(aipkit_site, "Other", session_id=str(uuid.uuid4())).body) == "Echo: Other"

    url = aipkit_site.base_url + AJAX
    form = {"action": "aipkit_get_conversation_history", "_ajax_nonce": aipkit_site.current_nonce(),
            "bot_id": "5", "session_id": SESSION, "conversation_uuid": CONVERSATION, "post_id": "6"}
    history = http("POST", url, form=form, as_multipart=True).json()["data"]["history"]
    assert [item["role"] for item in history] == ["user", "bot"] * 3
    assert [item["message_id"] for item in history[1::2]] == [i.replace(".", "") for i in ids]
    assert history[0]["message_id"] == "aipkit-client-msg-5-1795480540601-k3x9q"
    sent = history[3]["request_payload"]["payload_sent"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[0]["content"] == (
        "You are a helpful AI Assistant. Please be friendly. Today's date is November 24, 2026."
    )
    captured = json.loads(capture_body("08-post-get-conversation-history.body.json"))["data"]["history"]
    # the captures' upstream reported no token usage; the local site's model does, as real ones do when asked
    assert [sorted(set(item) - {"usage"}) for item in history[:4]] == [sorted(item) for item in captured]
    assert history[1]["usage"]["total_tokens"] == history[1]["usage"]["provider_raw"]["total_tokens"] > 0
    assert history[1]["request_payload"] == captured[1]["request_payload"]

    listing = http("POST", url, form={**form, "action": "aipkit_get_conversations_list"})
    assert {c["id"] for c in listing.json()["data"]["conversations"]} >= {CONVERSATION}
    form["_ajax_nonce"] = "0123456789"
    rejected = http("POST", aipkit_site.base_url + AJAX, form=form)
    assert rejected.status == 403
    assert rejected.body == (b'{"success":false,"data":{"message":"Security check failed (nonce).",'
                             b'"code":"nonce_failure"}}')


# --- triggers, faults, encoding ----------------------------------------------------------------------


def test_triggers(aipkit_site: Emulator) -> None:
    failed = ask(aipkit_site, "boom [[provider-fail]]", conversation_uuid=str(uuid.uuid4()))
    events = parse_sse(failed.body)
    assert [e.event for e in events] == ["message_start", None, None, "error"]
    assert failed.body.endswith(b'data: {"error":"API Error: Unknown path \\/v1\\/messages Type: '
                                b'invalid_request_error"}\n\n')
    assert events[-1].id is not None and events[-1].id.startswith("err-")

    warned = parse_sse(ask(aipkit_site, "a b c [[warning]]", conversation_uuid=str(uuid.uuid4())).body)
    names = [e.event for e in warned]
    assert names[0] == "message_start" and names[-1] == "done"
    assert 1 < names.index("warning") < len(names) - 2
    assert "error" in json.loads(warned[names.index("warning")].data)

    rich = parse_sse(ask(aipkit_site, "a b c [[events]]", conversation_uuid=str(uuid.uuid4())).body)
    names = [e.event for e in rich]
    order = [names.index(name) for name in ("status", "citations", "openai_response_id", "done")]
    assert order == sorted(order) and names[0] == "message_start"
    assert set(json.loads(rich[names.index("status")].data)) == {"text", "label", "type"}
    assert json.loads(rich[names.index("openai_response_id")].data)["id"].startswith("resp_")
    assert "".join(json.loads(e.data)["delta"] for e in rich if e.event is None) == "Echo: a b c [[events]]"


def test_sse_json_is_raw_utf8_with_escaped_slashes(aipkit_site: Emulator) -> None:
    answer = ask(aipkit_site, "¿qué? a/b")
    assert b'{"delta":" a\\/b"}' in answer.body and "qué?".encode() in answer.body
    assert deltas(answer.body) == "Echo: ¿qué? a/b"


@pytest.mark.parametrize("kind", ["nonce", "drop", "truncate", "502"])
def test_faults(start_emulator: StartEmulator, kind: str) -> None:
    emu = start_emulator(generation="aipkit", fault_rate=1.0, faults=(kind,))
    answer = cache(emu, "Hello there")
    full = len(b'{"success":true,"data":{"cache_key":"aipkit_sse_"}}') + 32
    if kind == "nonce":
        assert answer.status == 403 and answer.json()["data"]["code"] == "nonce_failure_cache_sse"
        refresh = http("POST", emu.base_url + AJAX, form={"action": "aipkit_get_frontend_chat_nonce"})
        assert refresh.json()["data"]["nonce"] == emu.current_nonce()  # nothing to reject there
    elif kind == "502":
        assert answer.status == 502 and b"502 Bad Gateway" in answer.body
    else:
        assert answer.status == 200 and len(answer.body) == full // 2
        assert answer.error == ("ClientPayloadError" if kind == "drop" else None)
    if not emu.cache:  # the fault kept the site from storing the message: store one directly
        emu.cache["aipkit_sse_" + "k" * 32] = CacheEntry("Hello there", "5", "", emu.now())
    events = parse_sse(stream(emu, next(iter(emu.cache))).body)
    if kind == "nonce":
        assert json.loads(events[0].data) == {
            "error": "Security check failed. Please refresh the page and try again."}
    elif kind == "drop":
        assert [e.event for e in events] == ["message_start", None, None]
    elif kind == "truncate":
        assert [e.event for e in events] == ["message_start", None]
    assert emu.counters.snapshot()["by_outcome"][f"fault_{kind}"] == 2
