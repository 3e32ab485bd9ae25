"""Site options of issue 13: the bot (``--bot``), the site owner's REST key (``--site-key``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from chatgpt_es.runtime.choices import with_choices
from chatgpt_es.runtime.client import Site
from stages.errors import ChatGptEsError


def choice_options() -> list[Callable[[Any], Any]]:
    return [
        click.option("--bot", "bot", default=None, metavar="ID",
                     help="The bot to talk to, by id (default: the page's first chat box)."),
        click.option("--site-key", "site_key", default=None, envvar="CHATGPT_ES_SITE_KEY", metavar="KEY",
                     help="The site owner's REST API key (AIPKit): talk through the REST API "
                          "(also CHATGPT_ES_SITE_KEY; never printed)."),
    ]


def with_choices_given(site: Site, options: dict[str, Any]) -> Site:
    """``site`` with the choice options applied (they are removed from ``options``)."""
    try:
        return with_choices(site, bot_id=options.pop("bot", None), api_key=options.pop("site_key", None))
    except ChatGptEsError as error:
        raise click.BadParameter(str(error)) from None
