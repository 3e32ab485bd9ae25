"""``chatgpt-es ask``: one message, its answer streamed to stdout."""

from __future__ import annotations

import sys
from typing import Any

import click

from pipeline import ask as ask_site

from .choices import message_content
from .common import make_site, run_async, site_options


@click.command()
@click.argument("message")
@click.option("--model", default=None, help="gpt-4, gpt-4o or gpt-4o-mini (the site decides in the end).")
@click.option("--image", "images", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Send this image (JPEG, PNG or WebP; AIPKit sites; up to 4) with MESSAGE.")
@site_options
def ask(message: str, model: str | None, images: tuple[str, ...], **options: Any) -> None:
    """Send MESSAGE and stream the answer to stdout."""
    client, site = make_site(options)
    content = message_content(message, images)

    async def run() -> int:
        async with client:
            async for chunk in ask_site(client, site, [{"role": "user", "content": content}]):
                sys.stdout.write(chunk)
                sys.stdout.flush()
        sys.stdout.write("\n")
        return 0

    run_async(run())
