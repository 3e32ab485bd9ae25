"""Properties of the pure pieces of issue 13: REST root discovery and route URLs, box choice, image checks,
citation merging — over arbitrary (hostile) input they never crash, and they keep what they promise."""

from __future__ import annotations

import base64
import time

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stages.aipkit_events import collect_extras, quota_error
from stages.boxes import choose_box
from stages.errors import BotNotFoundError, InvalidImageError
from stages.extract import extract_chatbox
from stages.images import MAX_IMAGE_BYTES, image_of, images_of
from stages.models import Citations, Notice, Outcome, ResponseId
from stages.rest import rest_root, route_url

ROUTE = "aipkit/v1/chat/6/message"


@given(st.text(max_size=300), st.text(max_size=300))
def test_rest_root_never_fails_on_any_header_or_page(link: str, page: str) -> None:
    found = rest_root((("Link", link),), page, "http://127.0.0.1/")
    assert found is None or isinstance(found, str)


@given(st.sampled_from(["http://h/wp-json/", "http://h/index.php?rest_route=/", "https://h/blog/wp-json",
                        "http://h/?lang=en&rest_route=/"]))
def test_route_url_keeps_the_root_and_adds_the_route(root: str) -> None:
    url = route_url(root, ROUTE)
    assert url.startswith(root.split("?")[0]) and url.count(ROUTE) == 1
    if "lang=en" in root:
        assert "lang=en" in url


@given(st.lists(st.sampled_from(["1", "2", "3", "0"]), min_size=1, max_size=6), st.sampled_from(["1", "2", "7"]))
def test_choose_box_picks_the_first_box_of_the_bot_or_lists_the_ids(ids: list[str], wanted: str) -> None:
    page = "".join(f'<div class="wpaicg-chat-shortcode" data-bot-id="{i}" data-nonce="n{i}{k}" data-post-id="4">'
                   for k, i in enumerate(ids))
    box = extract_chatbox(page)
    if wanted in ids:
        chosen = choose_box(box, wanted)
        assert chosen.bot_id == wanted and chosen.nonce.value == f"n{wanted}{ids.index(wanted)}"
    else:
        with pytest.raises(BotNotFoundError) as caught:
            choose_box(box, wanted)
        assert caught.value.available == tuple(dict.fromkeys(ids))


def test_many_containers_stay_cheap() -> None:
    page = '<div class="wpaicg-chat-shortcode" data-bot-id="1">' * 20_000
    start = time.perf_counter()
    box = extract_chatbox(page)
    assert box.containers == 20_000 and len(box.boxes) == 16
    assert time.perf_counter() - start < 5.0  # generous: a quadratic scan would take minutes


@given(st.text(max_size=200))
def test_image_check_never_fails_untyped(url: str) -> None:
    try:
        image = image_of({"type": "image_url", "image_url": {"url": url}}, "m")
    except InvalidImageError:
        return
    assert image.mime_type in ("image/jpeg", "image/png", "image/webp")
    base64.b64decode(image.base64_data, validate=True)


def test_the_size_limit_is_the_sites() -> None:
    exact = base64.b64encode(b"\0" * MAX_IMAGE_BYTES).decode()
    assert image_of({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{exact}"}}, "m")
    over = base64.b64encode(b"\0" * (MAX_IMAGE_BYTES + 1)).decode()
    with pytest.raises(InvalidImageError, match="20 MB"):
        image_of({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{over}"}}, "m")
    with pytest.raises(InvalidImageError):
        images_of([{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}], "  ", "m")


@given(st.lists(st.integers(0, 3), max_size=8), st.booleans())
def test_citations_each_once_and_the_final_list_wins(picks: list[int], final: bool) -> None:
    items = [{"url": f"https://e/{i}"} for i in range(4)]
    outcomes: list[Outcome] = [Citations((items[p],)) for p in picks]
    outcomes += [ResponseId("r"), Notice("warning", "w")]
    if final:
        outcomes.append(Citations((items[3],), final=True))
    extras = collect_extras(outcomes)
    expected = (items[3],) if final else tuple(items[p] for p in dict.fromkeys(picks))
    assert extras.citations == expected and extras.response_id == "r" and extras.warnings == ("w",)


@given(st.one_of(st.none(), st.text(max_size=50), st.dictionaries(st.text(max_size=10), st.text(max_size=10))))
def test_quota_error_never_fails_on_any_payload(payload: object) -> None:
    error = quota_error(payload, "{}")
    assert error is None or error.quota_message


def test_box_repr_never_shows_the_key() -> None:
    box = attrs.evolve(extract_chatbox('<div class="wpaicg-chat-shortcode" data-bot-id="1">'), api_key="SECRETKEY")
    assert "SECRETKEY" not in repr(box)
