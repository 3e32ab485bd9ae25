"""The emulator's legacy generation (AI Power 1.9.x) against PROTOCOL.md and the real captures.

The page, nonces, the captures replayed, the history decoding; streaming, triggers, faults and the rest:
test_emulator_legacy_faults.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from typing import Any

import pytest
from conftest import (
    AJAX,
    LEGACY_CAPTURES,
    FakeClock,
    StartEmulator,
    as_served,
    chat_form,
    http,
    load_exchange,
)

from chatgpt_es.emulator import Emulator
from chatgpt_es.emulator.legacy import decode_history
from chatgpt_es.emulator.nonces import NonceMaker
from chatgpt_es.emulator.wpcore import sanitize_textarea_field, strip_tags

CAPTURE_NONCE = "f2949d091c"
CAPTURE_PREVIOUS_NONCE = "5b09412abf"
CAPTURE_ORIGIN = "http://127.0.0.1:8080"


def site_text(text: str, emu: Emulator) -> str:
    """A capture's text as this emulated site would show it (its nonce and its origin in every spelling)."""
    return as_served(text, emu, CAPTURE_NONCE, CAPTURE_ORIGIN)


def replay(emu: Emulator, name: str) -> tuple[dict[str, Any], Any]:
    """Sends a capture's request (raw body, Content-Type, Referer, Origin) to the emulator."""
    exchange = load_exchange(LEGACY_CAPTURES / f"{name}.exchange.json")
    request = exchange["request"]
    headers = {k: site_text(v, emu) for k, v in request["headers"]
               if k in ("Content-Type", "Referer", "Origin")}
    body = site_text(request["body"], emu).encode() if request["body"] else None
    if CAPTURE_PREVIOUS_NONCE in request["body"]:
        previous = emu.nonces.for_tick(emu.nonces.tick() - 1, "wpaicg-chatbox")
        body = (body or b"").replace(CAPTURE_PREVIOUS_NONCE.encode(), previous.encode())
    return exchange, http(request["method"], emu.base_url + AJAX, body=body, headers=headers)


# --- the page -------------------------------------------------------------------------------------------


def test_page_is_the_capture_with_this_sites_nonce_and_url(legacy_site: Emulator) -> None:
    capture = (LEGACY_CAPTURES / "01-get-front-stream-off.html").read_text(encoding="utf-8")
    for path in ("/", "/chat/?x=1"):
        answer = http("GET", legacy_site.base_url + path)
        assert answer.status == 200
        assert answer.headers["Content-Type"] == "text/html; charset=UTF-8"
        assert "Set-Cookie" not in answer.headers
        assert answer.text == site_text(capture, legacy_site)
    page = answer.text
    assert page.count(legacy_site.current_nonce()) == 2
    assert f'data-nonce="{legacy_site.current_nonce()}"' in page
    assert f'"search_nonce":"{legacy_site.current_nonce()}"' in page
    assert "127.0.0.1:8080" not in page and CAPTURE_NONCE not in page
    assert '"ajax_url":"' + legacy_site.base_url.replace("/", "\\/") + '\\/wp-admin\\/admin-ajax.php"' in page
    assert 'data-openai_stream_nav="0"' in page


def test_stream_page_is_capture_02(start_emulator: StartEmulator) -> None:
    emu = start_emulator(stream=True)
    capture = (LEGACY_CAPTURES / "02-get-front-stream-on.html").read_text(encoding="utf-8")
    assert http("GET", emu.base_url + "/").text == site_text(capture, emu)


def test_widget_and_custom_bot_pages(start_emulator: StartEmulator) -> None:
    widget = http("GET", start_emulator(page="widget").base_url + "/").text
    assert '<div class="wpaicg-chatbox"\n' in widget
    assert '<div class="wpaicg-chat-shortcode"\n' not in widget
    assert '     data-type="widget"\n>' in widget and '     data-type="shortcode"\n>' not in widget
    custom = http("GET", start_emulator(page="custom-bot", bot_id=7).base_url + "/").text
    assert 'data-bot-id="7"' in custom and 'data-bot-id="0"' not in custom
    assert '<div class="wpaicg-chat-shortcode"\n' in custom


# --- nonces ---------------------------------------------------------------------------------------------


def test_nonce_is_wordpress_shaped() -> None:
    maker = NonceMaker(86400.0, lambda: 1_795_480_540.0, secret=b"salt")
    tick = math.ceil(1_795_480_540.0 / 43200)
    expected = hmac.new(b"salt", f"{tick}|wpaicg-chatbox|0|".encode(), hashlib.md5).hexdigest()[-12:-2]
    assert maker.tick() == tick == 41563  # the capture's tick
    assert maker.create("wpaicg-chatbox") == expected
    assert maker.create("aipkit_frontend_chat_nonce") != expected
    assert maker.verify(expected, "wpaicg-chatbox") == 1
    assert maker.verify(expected.upper(), "wpaicg-chatbox") == 0
    assert maker.verify("ü" * 10, "wpaicg-chatbox") == 0


def test_nonce_valid_for_current_and_previous_tick_only(
    start_emulator: StartEmulator, fake_clock: FakeClock
) -> None:
    fake_clock.now = 1000.0  # nonce_life 100 -> ticks of 50 s; 1000 is the last instant of tick 20
    emu = start_emulator(clock=fake_clock, nonce_life=100.0)
    form = chat_form(emu, "Hello there")
    assert http("POST", emu.base_url + AJAX, form=form).status == 200
    fake_clock.now = 1049.0  # tick 21: the page now carries a new nonce, the old one is "previous"
    assert emu.current_nonce() != form["_wpnonce"]
    assert http("POST", emu.base_url + AJAX, form=form).json()["data"] == "Echo: Hello there"
    fake_clock.now = 1100.5  # tick 23: two ticks later, rejected
    rejected = http("POST", emu.base_url + AJAX, form=form)
    assert (rejected.status, rejected.text) == (403, "The link you followed has expired.")
    assert http("POST", emu.base_url + AJAX, form=chat_form(emu, "Hi")).status == 200


# --- replaying the real captures -----------------------------------------------------------------------

REPLAYED = [
    "05-post-valid-stream-off-multipart", "06-post-valid-stream-off-urlencoded",
    "09-post-bad-nonce-with-referer", "10-post-bad-nonce-no-referer", "12-post-previous-tick-nonce",
    "13-post-no-nonce", "14-post-empty-message", "15-post-unknown-action", "16-post-no-action",
    "19-get-admin-ajax", "20-post-valid-sse-stream-on", "22-post-bad-nonce-stream-on",
    "23-post-empty-message-stream-on",
]


@pytest.mark.parametrize("name", REPLAYED)
def test_capture_replay_is_byte_equal(start_emulator: StartEmulator, name: str) -> None:
    emu = start_emulator(stream="stream-on" in name)
    exchange, answer = replay(emu, name)
    expected = exchange["response"]
    assert answer.status == expected["status"]
    captured_type = {k.lower(): v for k, v in expected["headers"]}["content-type"]
    assert answer.headers["Content-Type"] == captured_type
    body_file = LEGACY_CAPTURES / expected["body_file"]
    assert answer.body == site_text(body_file.read_text(encoding="utf-8"), emu).encode()
    if "sse" in name:
        assert "Content-Length" not in answer.headers
        assert answer.headers["Cache-Control"] == "no-cache"
        assert answer.headers["X-Accel-Buffering"] == "no"
    assert "Set-Cookie" not in answer.headers


@pytest.mark.parametrize("name", ["07-post-history-stream-off", "08-post-history-strings-stream-off"])
def test_capture_with_history_counts_the_decoded_turns(legacy_site: Emulator, name: str) -> None:
    exchange, answer = replay(legacy_site, name)
    turns = 4 if name.startswith("07") else 3
    captured = (LEGACY_CAPTURES / exchange["response"]["body_file"]).read_text(encoding="utf-8")
    expected = captured.replace('"data":"Echo: What is my name?"',
                                f'"data":"Echo: What is my name? (after {turns} earlier turns)"')
    assert answer.text == expected
    first_two = [("user", "My name is Ana."), ("assistant", "Echo: My name is Ana.")]
    assert legacy_site.last_history[:2] == first_two
    assert len(legacy_site.last_history) == turns
    assert legacy_site.last_form["wpaicg_chat_client_id"] == "Lc9xQ2vT7k"


def test_sse_pieces_match_capture_21(start_emulator: StartEmulator) -> None:
    emu = start_emulator(stream=True)
    answer = http("POST", emu.base_url + AJAX, form=chat_form(emu, "What is my name?"))
    assert answer.body == (LEGACY_CAPTURES / "21-post-history-sse-stream-on.body.sse").read_bytes()


def test_bad_nonce_link_only_for_on_site_referer(legacy_site: Emulator) -> None:
    form = chat_form(legacy_site, "Hello there", _wpnonce="0123456789")
    off_site = http("POST", legacy_site.base_url + AJAX, form=form, headers={"Referer": "https://evil.example/"})
    assert off_site.text == "The link you followed has expired."
    tricky = http("POST", legacy_site.base_url + AJAX, form=form,
                  headers={"Referer": legacy_site.base_url + "/page?updated=1&a=b'c"})
    assert tricky.text == ("The link you followed has expired.</p><p><a href=\""
                           + legacy_site.base_url + "/page?a=b&#039;c\">Please try again.</a>")


def test_widget_action_and_multipart_are_accepted(legacy_site: Emulator) -> None:
    form = chat_form(legacy_site, "Hola", action="wpaicg_chatbox_message", chatbot_identity="widget")
    answer = http("POST", legacy_site.base_url + AJAX, form=form, as_multipart=True)
    assert answer.json()["data"] == "Echo: Hola"
    assert legacy_site.last_form["chatbot_identity"] == "widget"


def test_json_is_php_escaped(legacy_site: Emulator) -> None:
    answer = http("POST", legacy_site.base_url + AJAX, form=chat_form(legacy_site, "Grüße / ok 😀"))
    assert b'"data":"Echo: Gr\\u00fc\\u00dfe \\/ ok \\ud83d\\ude00"' in answer.body
    assert answer.json()["data"] == "Echo: Grüße / ok 😀"


# --- the plugin's history decoding (PROTOCOL.md §2 table) -------------------------------------------------

HISTORY_TABLE = [
    (json.dumps(["Human: hi there", "AI: hello"]), [("user", "hi there"), ("assistant", "hello")]),
    (json.dumps(["Human: say \"hi\"", "AI: ok"]), []),
    (json.dumps(["Human: line1\nline2"]), [("user", "line1nline2")]),
    (json.dumps(["Human: ¿qué tal?"]), [("user", "u00bfquu00e9 tal?")]),
    (json.dumps(["Human: ¿qué tal?"], ensure_ascii=False), [("user", "¿qué tal?")]),
    (json.dumps(["Human: 100%20 off"]), [("user", "100 off")]),
    (json.dumps(["Human: use <b>bold</b>"]), [("user", "use bold")]),
    (json.dumps(["Human: line1\u2028line2"], ensure_ascii=False), [("user", "line1\u2028line2")]),
]


@pytest.mark.parametrize(("raw", "expected"), HISTORY_TABLE)
def test_history_decoding_table(raw: str, expected: list[tuple[str, str]]) -> None:
    assert decode_history(raw) == expected


def test_history_decoding_details() -> None:
    objects = json.dumps([{"id": 1, "text": "Human: a"}, {"id": 2, "text": "AI: b"}, {"id": 3}, 7, "c"])
    assert decode_history(objects) == [("user", "a"), ("assistant", "b"), ("assistant", "c")]
    assert decode_history(json.dumps(["Human: x<script>alert(1)</script>y"])) == [("user", "xy")]
    assert decode_history(json.dumps(["Human: %%2020 %4A%4a"])) == [("user", "")]
    assert decode_history(json.dumps(["Human: a < b"])) == []  # the lone "<" gets HTML-escaped: JSON breaks
    assert decode_history("not json") == decode_history("") == decode_history("NaN") == []
    assert decode_history('["Human: a\x00b"]') == [("user", "a0b")]  # magic quotes turn NUL into "\\0"
    many = json.dumps([f"Human: {i}" for i in range(150)])
    decoded = decode_history(many)
    assert len(decoded) == 100 and decoded[0] == ("user", "50")


def test_wordpress_sanitizing_primitives() -> None:
    assert strip_tags("a <b>c</b> < d <!-- x --> e <?php echo 1; ?>f") == "a c < d  e f"
    assert strip_tags('<a title="x>y">z</a>') == "z"
    assert sanitize_textarea_field("  keep\nnewlines\t ") == "keep\nnewlines"
    assert sanitize_textarea_field("<style>p{}</style>%41b") == "b"


def test_history_end_to_end(legacy_site: Emulator) -> None:
    history = json.dumps(["Human: one", "AI: Echo: one", "Human: two"], ensure_ascii=False)
    answer = http("POST", legacy_site.base_url + AJAX, form=chat_form(legacy_site, "three", history))
    assert answer.json()["data"] == "Echo: three (after 3 earlier turns)"
    assert legacy_site.last_history == [("user", "one"), ("assistant", "Echo: one"), ("user", "two")]
    broken = json.dumps(['Human: "quoted"'])
    answer = http("POST", legacy_site.base_url + AJAX, form=chat_form(legacy_site, "four", broken))
    assert answer.json()["data"] == "Echo: four"
    assert legacy_site.last_history == []
