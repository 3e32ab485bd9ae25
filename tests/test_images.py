"""Images end to end: OpenAI-style image_url parts become AIPKit's image_inputs on the cache POST; bad images
are typed errors before any request; legacy sites and the REST API say they take none."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cli_helpers import cli, site_args
from conftest import FIXTURES, StartEmulator, http
from e2e_helpers import collect, new_client, provider_for, run

import pipeline
from chatgpt_es.emulator import Emulator
from stages.errors import ChatGptEsError, ImagesNotSupportedError, InvalidImageError, InvalidMessagesError
from stages.images import data_url

RED = (FIXTURES / "images" / "tiny-red-2x2.png").read_bytes()
BLUE = (FIXTURES / "images" / "tiny-blue-2x2.png").read_bytes()
RED_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR42mP4z8AARAwQCgAf7gP9Y167WwAAAABJRU5ErkJggg=="


def image(raw: bytes = RED, mime: str = "image/png") -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": data_url(raw, mime)}}


def message(*images: dict[str, Any], text: str = "What colour is this image?") -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "text": text}, *images]}]


def answer(emu: Emulator, messages: Any, **kwargs: Any) -> str:
    async def body() -> list[str]:
        async with new_client(emu) as client:
            return await collect(provider_for(emu).create_async_generator(
                "gpt-4o", messages, client=client, system_prompt="", **kwargs))

    return "".join(run(body()))


def test_one_image_goes_as_image_inputs_on_the_cache_post(start_emulator: StartEmulator) -> None:
    emu = start_emulator(generation="aipkit")
    assert answer(emu, message(image())) == "Echo: What colour is this image? [images: image/png]"
    assert json.loads(emu.last_form["image_inputs"]) == [{"mime_type": "image/png", "base64_data": RED_B64}]
    assert list(emu.last_form) == ["action", "message", "_ajax_nonce", "bot_id", "image_inputs",
                                   "user_client_message_id"]  # the order of the site's script


def test_two_images_in_order_and_a_follow_up_without_them(start_emulator: StartEmulator) -> None:
    emu = start_emulator(generation="aipkit")

    async def body() -> tuple[str, bool, str, bool]:
        async with new_client(emu) as client:
            chat = pipeline.Chat(client, pipeline.Site(url=emu.base_url + "/"))
            first = await chat.say(message(image(), image(BLUE))[0]["content"])
            inputs = json.loads(emu.last_form["image_inputs"])
            second = await chat.say("And now?")
            sent = [i["base64_data"] for i in inputs]
            return (first, sent == [base64.b64encode(RED).decode(), base64.b64encode(BLUE).decode()], second,
                    "image_inputs" in emu.last_form)

    first, in_order, second, resent = run(body())
    assert first == "Echo: What colour is this image? [images: image/png, image/png]" and in_order
    assert second == "Echo: And now? (after 2 earlier turns)" and not resent


@pytest.mark.parametrize(("content", "said"), [
    ([image()], "no text"),
    ([{"type": "text", "text": "x"}, image(mime="image/gif")], "image/gif"),
    ([{"type": "text", "text": "x"}] + [image()] * 5, "at most 4"),
    ([{"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": "https://e.org/a.png"}}], "http"),
    ([{"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@"}}],
     "base64"),
])
def test_a_bad_image_is_refused_before_any_request(start_emulator: StartEmulator, content: list[Any],
                                                   said: str) -> None:
    emu = start_emulator(generation="aipkit")
    with pytest.raises(InvalidImageError, match=said) as caught:
        answer(emu, [{"role": "user", "content": content}])
    assert isinstance(caught.value, InvalidMessagesError)
    counts = emu.counters.snapshot()
    assert (counts["get"], counts["post"]) == (0, 0)  # not even the page


def test_the_site_refuses_what_the_client_would_have_caught(start_emulator: StartEmulator) -> None:
    emu = start_emulator(generation="aipkit")
    form = {"action": "aipkit_cache_sse_message", "message": "x", "_ajax_nonce": emu.current_nonce(),
            "bot_id": "5", "image_inputs": json.dumps([{"mime_type": "image/gif", "base64_data": RED_B64}])}
    done = http("POST", emu.base_url + "/wp-admin/admin-ajax.php", form=form, as_multipart=True)
    assert (done.status, done.json()["data"]["code"]) == (400, "invalid_image_type")


def test_a_legacy_site_takes_no_images(legacy_site: Emulator) -> None:
    with pytest.raises(ImagesNotSupportedError):
        answer(legacy_site, message(image()))
    assert legacy_site.counters.snapshot()["post"] == 0


def test_the_rest_api_takes_no_images(start_emulator: StartEmulator) -> None:
    key = "aipk_live_" + "2" * 48
    emu = start_emulator(generation="aipkit", rest_key=key)
    with pytest.raises(ChatGptEsError) as caught:
        answer(emu, message(image()), api_key=key)
    assert isinstance(caught.value, ImagesNotSupportedError) and emu.counters.snapshot()["post"] == 0


def test_cli_image_option(start_emulator: StartEmulator, tmp_path: Any) -> None:
    emu = start_emulator(generation="aipkit")
    done = cli("ask", "Colour?", *site_args(emu), "--image", str(FIXTURES / "images" / "tiny-red-2x2.png"),
               "--image", str(FIXTURES / "images" / "tiny-blue-2x2.png"))
    assert (done.returncode, done.stdout) == (0, "Echo: Colour? [images: image/png, image/png]\n")
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    done = cli("ask", "Colour?", *site_args(emu), "--image", str(text))
    assert done.returncode == 2 and "not a JPEG, PNG or WebP image" in done.stderr
