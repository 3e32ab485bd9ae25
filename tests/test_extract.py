"""Extraction: nonce / post_id / container fields, from any rendering of the plugin's markup."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import stages
from stages.extract import DEFAULT_NONCE, DEFAULT_POST_ID, extract_chatbox

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real"
LEGACY_PAGE = (REAL / "01-get-front-stream-off.html").read_text(encoding="utf-8")
AIPKIT_PAGE = (REAL.parent / "real-aipkit" / "01-get-front-page.html").read_text(encoding="utf-8")
_CONTAINER = re.compile(r'<div class="wpaicg-chat-shortcode"[^>]*>')
_AIPKIT_CONTAINER = re.compile(r"<div class=\"aipkit_chat_container[^>]*>")

nonces = st.text(alphabet="0123456789abcdef", min_size=10, max_size=10)
post_ids = st.integers(min_value=1, max_value=10**9).map(str)
quotes = st.sampled_from(['"', "'", ""])
cases = st.sampled_from(["lower", "upper", "title"])
spaces = st.sampled_from(["", " ", "\n  ", "\t"])


def attribute(name: str, value: str, quote: str, case: str, space: str) -> str:
    name = {"lower": name, "upper": name.upper(), "title": name.title()}[case]
    shown = html.escape(value, quote=True)
    if quote == "" and (not shown or re.search(r"[\s\"'=<>`]", shown)):
        quote = '"'
    return f"{name}{space}={space}{quote}{shown}{quote}"


@st.composite
def rendered_container(draw: st.DrawFn) -> tuple[str, str, str, str, str]:
    nonce, post_id = draw(nonces), draw(post_ids)
    bot_id = draw(st.sampled_from(["0", "7", "42"]))
    box_type = draw(st.sampled_from(["shortcode", "widget"]))
    pairs = [("data-nonce", nonce), ("data-post-id", post_id), ("data-url", "https://site.test/chat"),
             ("data-bot-id", bot_id), ("data-type", box_type), ("data-openai_stream_nav", "1"),
             ("data-color", "#495057"), ("data-memory-limit", "100")]
    order = draw(st.permutations(pairs))
    rendered = [attribute(k, v, draw(quotes), draw(cases), draw(spaces)) for k, v in order]
    css = "wpaicg-chat-shortcode" if box_type == "shortcode" else "wpaicg-chatbox"
    klass = attribute("class", css, draw(quotes), draw(cases), draw(spaces))
    position = draw(st.integers(min_value=0, max_value=len(rendered)))
    rendered.insert(position, klass)
    tag = "<div" + draw(st.sampled_from([" ", "\n", "\n     "])) + " ".join(rendered) + draw(spaces) + ">"
    return tag, nonce, post_id, bot_id, box_type


noise = st.sampled_from([
    '<input type="hidden" name="_wpnonce" value="deadbeef00" />',
    '<script>var wpApiSettings = {"root":"https://site.test/wp-json/","nonce":"a1b2c3d4e5"};</script>',
    "<script>var wpaicg_nonce = 'ffffffffff';</script>",
    '<div data-nonce="0000000000" class="other-plugin"></div>',
    '<style>.wpaicg-chat-shortcode { color: red }</style>',
])


@settings(max_examples=200)
@given(rendered_container(), st.lists(noise, max_size=4))
def test_any_rendering_of_the_container_is_extracted_exactly(
        container: tuple[str, str, str, str, str], before: list[str]) -> None:
    tag, nonce, post_id, bot_id, box_type = container
    page = _CONTAINER.sub(lambda _: "".join(before) + tag, LEGACY_PAGE, count=1)
    box = extract_chatbox(page)
    assert box.protocol == "legacy"
    assert (box.nonce.value, box.nonce.rule) == (nonce, "wpaicg_container")
    assert (box.post_id.value, box.post_id.rule) == (post_id, "wpaicg_container")
    assert (box.bot_id, box.box_type, box.stream, box.page_url) == (bot_id, box_type, True, "https://site.test/chat")
    assert box.nonce.position is not None
    assert page[box.nonce.position:box.nonce.position + len(nonce)] == nonce
    assert stages.extract_nonce(page) == box.nonce
    assert stages.extract_post_id(page) == box.post_id


@st.composite
def aipkit_config(draw: st.DrawFn) -> tuple[str, str, str, str]:
    nonce, post_id = draw(nonces), draw(post_ids)
    bot_id = str(draw(st.integers(min_value=1, max_value=99999)))
    keys = st.text(min_size=1, max_size=8).filter(lambda k: k not in {"nonce", "postId", "botId", "ajaxUrl"})
    extra = draw(st.dictionaries(keys,
                                 st.one_of(st.text(max_size=20), st.integers(), st.booleans()), max_size=5))
    config = {**extra, "botId": int(bot_id), "nonce": nonce, "postId": int(post_id),
              "ajaxUrl": "https://site.test/wp-admin/admin-ajax.php"}
    text = json.dumps(config, ensure_ascii=draw(st.booleans()))
    if draw(st.booleans()):
        text = text.replace("/", "\\/")  # PHP's json_encode escapes slashes
    quote = draw(st.sampled_from(["'", '"']))
    escaped = html.escape(text, quote=True)
    wrapper = draw(st.sampled_from(["aipkit_chat_container", "aipkit_popup_wrapper"]))
    tag = f'<div class="{wrapper} x" id="c" data-bot-id="{bot_id}" data-config={quote}{escaped}{quote}>'
    return tag, nonce, post_id, wrapper


@settings(max_examples=150)
@given(aipkit_config())
def test_any_aipkit_data_config_is_extracted_exactly(config: tuple[str, str, str, str]) -> None:
    tag, nonce, post_id, wrapper = config
    page = _AIPKIT_CONTAINER.sub(lambda _: tag, AIPKIT_PAGE, count=1)
    box = extract_chatbox(page)
    rule = "aipkit_container" if wrapper == "aipkit_chat_container" else "aipkit_popup"
    assert box.protocol == "aipkit" and box.markup == wrapper
    assert (box.nonce.value, box.nonce.rule) == (nonce, rule)
    assert (box.post_id.value, box.post_id.rule) == (post_id, rule)
    assert box.ajax_url == "https://site.test/wp-admin/admin-ajax.php"


@settings(max_examples=300)
@given(st.text(max_size=2000))
def test_extraction_never_raises_on_arbitrary_text(text: str) -> None:
    box = extract_chatbox(text)
    assert box.nonce.value and box.post_id.value


@given(st.text(alphabet='<>"\'= /\nadiv-clsnocetwpag_hrkux', max_size=400))
def test_extraction_never_raises_on_markup_like_soup(text: str) -> None:
    extract_chatbox(text)


def test_a_page_without_tokens_falls_back_to_the_seeds_defaults() -> None:
    box = extract_chatbox("<html><body><p>Hello</p></body></html>")
    assert box.protocol == "unknown"
    assert (box.nonce.value, box.nonce.rule) == (DEFAULT_NONCE, "default")
    assert (box.post_id.value, box.post_id.rule) == (DEFAULT_POST_ID, "default")
    assert box.used_defaults


@pytest.mark.parametrize(("snippet", "rule", "value"), [
    ('<input type="hidden" name="_wpnonce" value="abc123" />', "seed_hidden_input", "abc123"),
    ('{"_wpnonce":"abc124"}', "seed_wpnonce_json", "abc124"),
    ("var wpaicg_nonce = 'abc125';", "seed_wpaicg_nonce_var", "abc125"),
    ("{wpaicg_nonce: 'abc126'}", "seed_wpaicg_nonce_key", "abc126"),
    ('x.nonce = "abc127";', "seed_any_nonce", "abc127"),
])
def test_seed_rules_apply_in_the_seeds_order(snippet: str, rule: str, value: str) -> None:
    nonce = stages.extract_nonce(f"<html>{snippet}</html>")
    assert (nonce.value, nonce.rule) == (value, rule)


def test_the_first_of_several_containers_wins_and_all_are_counted() -> None:
    page = ('<div class="wpaicg-chat-shortcode" data-nonce="1111111111" data-post-id="1"></div>'
            '<div class="wpaicg-chatbox" data-nonce="2222222222" data-post-id="2" data-type="widget"></div>')
    box = extract_chatbox(page)
    assert (box.nonce.value, box.post_id.value, box.containers) == ("1111111111", "1", 2)


def test_class_names_must_match_whole_tokens() -> None:
    page = '<div class="wpaicg-chat-shortcode-content" data-nonce="1111111111"></div>'
    assert extract_chatbox(page).protocol == "unknown"


@pytest.mark.parametrize("before", ['<div data-title="a<b" ', '<div data-x="<<<" '])
def test_a_stray_less_than_inside_an_earlier_attribute_does_not_hide_the_container(before: str) -> None:
    page = f'<p>x</p>{before}class="wpaicg-chat-shortcode" data-nonce="realnonce1" data-post-id="7">'
    box = extract_chatbox(page)
    assert (box.protocol, box.nonce.value, box.nonce.rule, box.post_id.value) == (
        "legacy", "realnonce1", "wpaicg_container", "7")


def test_a_class_name_in_script_text_is_not_a_container() -> None:
    page = ('<script>if (a<b) { x = "wpaicg-chat-shortcode"; }</script>'
            '<div class="wpaicg-chat-shortcode" data-nonce="n2" data-post-id="8"></div>')
    box = extract_chatbox(page)
    assert (box.nonce.value, box.containers) == ("n2", 1)


@pytest.mark.parametrize("config", ["[" * 100_000, '{"nonce": "abc"'])
def test_a_broken_data_config_never_raises(config: str) -> None:
    page = f"<div class='aipkit_chat_container' data-config='{config}'></div>"
    assert extract_chatbox(page).protocol == "aipkit"
