"""Site options of issue 13: the bot (``--bot``), the site owner's REST key (``--site-key``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from chatgpt_es.runtime.choices import with_choices
from chatgpt_es.runtime.client import Site
from stages.boxes import choose_box
from stages.errors import BotNotFoundError, ChatGptEsError
from stages.extract import extract_chatbox
from stages.images import data_url, sniff_mime
from stages.models import ChatBox


def choice_options() -> list[Callable[[Any], Any]]:
    return [
        click.option("--bot", "bot", default=None, metavar="ID",
                     help="The bot to talk to, by id (default: the page's first chat box)."),
        click.option("--site-key", "site_key", default=None, envvar="CHATGPT_ES_SITE_KEY", metavar="KEY",
                     help="The site owner's REST API key (AIPKit): talk through the REST API "
                          "(also CHATGPT_ES_SITE_KEY; never printed)."),
        click.option("--history", "history", type=click.Choice(["auto", "structured", "inline"]), default=None,
                     help="Legacy sites: earlier turns as wpaicg_chat_history (structured), verbatim in the "
                          "message (inline), or structured when every turn survives intact (auto, the default)."),
    ]


def with_choices_given(site: Site, options: dict[str, Any]) -> Site:
    """``site`` with the choice options applied (they are removed from ``options``)."""
    try:
        return with_choices(site, bot_id=options.pop("bot", None), api_key=options.pop("site_key", None),
                            history=options.pop("history", None))
    except ChatGptEsError as error:
        raise click.BadParameter(str(error)) from None


def extract_for_bot(page: str, bot: str | None) -> ChatBox:
    """``stage extract --bot``: the page's chat box of that bot; an id not on the page exits 1 with the ids there."""
    box = extract_chatbox(page)
    if bot is None:
        return box
    try:
        return choose_box(box, bot)
    except BotNotFoundError as error:
        click.echo(f"error: {type(error).__name__}: {error}", err=True)
        sys.exit(1)


def message_content(message: str, images: tuple[str, ...]) -> str | list[dict[str, Any]]:
    """``ask --image FILE``: the message as OpenAI-style parts, each image a data URL (checked by the prompt stage)."""
    if not images:
        return message
    parts: list[dict[str, Any]] = [{"type": "text", "text": message}]
    for path in images:
        raw = Path(path).read_bytes()
        mime = sniff_mime(raw, path)
        if mime is None:
            raise click.BadParameter(f"{path} is not a JPEG, PNG or WebP image", param_hint="--image")
        parts.append({"type": "image_url", "image_url": {"url": data_url(raw, mime)}})
    return parts
