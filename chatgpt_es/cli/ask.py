"""``chatgpt-es ask``: one message, its answer streamed to stdout."""

from __future__ import annotations

import sys
from typing import Any

import click

from pipeline import ask as ask_site

from .choices import message_content
from .common import make_site, run_async, site_options

#: control characters (C0, DEL, C1) but newline and tab: a site's answer must not drive the terminal
#: (clear the screen, set the window title, move the cursor, hide text)
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in "\n\t"}


def printable(text: str) -> str:
    """``text`` with its terminal control characters shown as ``\\xNN`` escapes."""
    return text.translate(_CONTROLS)


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
    shown = printable if sys.stdout.isatty() else str  # a pipe gets the answer exactly as the site sent it

    async def run() -> int:
        async with client:
            async for chunk in ask_site(client, site, [{"role": "user", "content": content}]):
                sys.stdout.write(shown(chunk))
                sys.stdout.flush()
        sys.stdout.write("\n")
        return 0

    run_async(run())
