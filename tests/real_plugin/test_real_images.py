"""Images through the real 2.4.71 plugin (bot meta ``_aipkit_enable_image_upload``, set with ``set.php meta`` and
restored after each test): an OpenAI-style ``image_url`` part with a PNG data URL and text reaches the site's model
as content parts, byte for byte, in order; a later turn does not send it again; the command line's ``--image``."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pipeline
from real_plugin.calls import cli, provider_for, run
from real_plugin.expectations import IMAGES_NEED_THE_BOT_SETTING, echo
from real_plugin.stand import INLINE_BOT, PAGE, Stand, chat_messages

pytestmark = pytest.mark.real_plugin

URL = PAGE["2.4.71 inline"].url
SETTING = "_aipkit_enable_image_upload"
TEXT = 'What colour is this? <b>"exactly"</b> ¿rojo?'


def png(red: int, green: int, blue: int) -> bytes:
    """A valid 1×1 RGB PNG of one colour."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes([0, red, green, blue]))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def data_url(image: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(image).decode()


def image_part(image: bytes) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": data_url(image)}}


def as_received(text: str, *images: bytes) -> list[dict[str, Any]]:
    """The last user turn as the site's model receives it (chat-completions mode): text, then one part per image."""
    return [{"type": "text", "text": text}, *({"type": "image_url", "image_url": {"url": data_url(image)}}
                                             for image in images)]


@pytest.fixture
def uploads_on(stand: Stand) -> Iterator[Stand]:
    with stand.bot_meta(INLINE_BOT, SETTING, "1"):
        yield stand


async def ask(content: list[dict[str, Any]]) -> str:
    async with pipeline.Client() as client:
        return "".join([chunk async for chunk in provider_for(URL).create_async_generator(
            "gpt-4o", [{"role": "user", "content": content}], system_prompt="", client=client)])


@pytest.mark.parametrize("setting", ["1", "0"], ids=["upload on", "upload off"])
def test_an_image_with_text_reaches_the_model(stand: Stand, setting: str) -> None:
    red = png(255, 0, 0)
    mark = stand.model_mark()
    with stand.bot_meta(INLINE_BOT, SETTING, setting):
        got = run(ask([{"type": "text", "text": TEXT}, image_part(red)]))

    [request] = stand.model_requests_since(mark)
    system, last = request["body"]["messages"]
    assert (system["role"], last["role"]) == ("system", "user")
    reached = last["content"] == as_received(TEXT, red)
    assert reached == (setting == "1" or not IMAGES_NEED_THE_BOT_SETTING)
    assert got == echo(TEXT, ["system", "user"])  # the fake model echoes the text parts


def test_two_images_reach_the_model_in_order(uploads_on: Stand) -> None:
    red, blue = png(255, 0, 0), png(0, 0, 255)
    mark = uploads_on.model_mark()
    run(ask([{"type": "text", "text": "Which comes first?"}, image_part(red), image_part(blue)]))
    [request] = uploads_on.model_requests_since(mark)
    assert request["body"]["messages"][-1]["content"] == as_received("Which comes first?", red, blue)


def test_a_later_turn_does_not_send_the_image_again(uploads_on: Stand) -> None:
    async def body() -> list[str]:
        async with pipeline.Client() as client:
            chat = pipeline.Chat(client, pipeline.Site(url=URL, system_prompt=""))
            return [await chat.say([{"type": "text", "text": TEXT}, image_part(png(0, 255, 0))]),
                    await chat.say("And now, without it?")]

    mark = uploads_on.model_mark()
    first, second = run(body())
    requests = uploads_on.model_requests_since(mark)
    assert len(requests) == 2 and "image_url" in requests[0]["body_raw"]
    assert "image_url" not in requests[1]["body_raw"] and "base64" not in requests[1]["body_raw"]
    assert chat_messages(requests[1])[1:] == [("user", TEXT), ("assistant", first), ("user", "And now, without it?")]
    assert second == echo("And now, without it?", ["system", "user", "assistant", "user"])


def test_the_command_line_image_option(uploads_on: Stand, tmp_path: Path) -> None:
    image = tmp_path / "swatch.png"
    image.write_bytes(png(12, 34, 56))
    mark = uploads_on.model_mark()
    done = cli("ask", TEXT, "--url", URL, "--system", "", "--image", str(image))
    assert (done.returncode, done.stdout, done.stderr) == (0, echo(TEXT, ["system", "user"]) + "\n", "")
    [request] = uploads_on.model_requests_since(mark)
    assert request["body"]["messages"][-1]["content"] == as_received(TEXT, png(12, 34, 56))
