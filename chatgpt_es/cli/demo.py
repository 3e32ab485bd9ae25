"""``chatgpt-es demo``: the whole pipeline against local sites of both generations, offline."""

from __future__ import annotations

import click

from chatgpt_es.emulator import EmulatorConfig, running_emulator
from chatgpt_es.runtime.client import Client, Site
from chatgpt_es.runtime.trace import Trace
from pipeline import Chat

from .render import render_lines

SITES = (
    ("AI Power 1.9 (legacy wpaicg), JSON answers", EmulatorConfig()),
    ("AI Power 1.9 (legacy wpaicg), streamed answers", EmulatorConfig(stream=True, chunk_delay=0.02)),
    ("AI Power 2.x (AIPKit): cached message, then an event stream", EmulatorConfig(generation="aipkit",
                                                                                   chunk_delay=0.02)),
)
CONVERSATION = ("Hello there", "What did I just say?", "¿Y en español?")


async def run_demo() -> int:
    click.echo("chatgpt-es demo: each local site runs on 127.0.0.1 for the length of its conversation.")
    click.echo("(The demo sends no system prompt, so the local site's echo stays readable.)\n")
    for title, config in SITES:
        async with running_emulator(config) as site, Client() as client:
            click.secho(f"== {title} — {site.base_url}", bold=True)
            chat = Chat(client, Site(url=site.base_url + "/", system_prompt=""))
            for number, message in enumerate(CONVERSATION, start=1):
                trace = Trace()
                click.echo(f"you  > {message}")
                click.echo("site > ", nl=False)
                async for chunk in chat.send(message, trace):
                    click.echo(chunk, nl=False)
                click.echo()
                if number == 1 or number == len(CONVERSATION):
                    for line in render_lines(trace.records):
                        click.secho("   " + line, dim=True)
            counts = site.counters.snapshot()
            streams = counts["get"] - counts["pages"]
            click.echo(f"   the site served {counts['pages']} page GET, {counts['post']} POST"
                       + (f", {streams} stream GET" if streams else "")
                       + f" for {len(CONVERSATION)} messages: the page is fetched once, its nonce reused\n")
    return 0
