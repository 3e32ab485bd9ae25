"""``chatgpt-es emulate`` and ``chatgpt-es demo``: the local site, alone or with a conversation against it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from chatgpt_es.emulator import FAULT_KINDS, EmulatorConfig, serve_forever
from chatgpt_es.emulator.tls import require_trustme
from stages.errors import MissingRequirementsError

from .common import run_async
from .demo import run_demo
from .local_features import PAGE_KINDS, feature_config, site_feature_options
from .types import PORT, Count, Host, Probability, Seconds

F = TypeVar("F", bound=Callable[..., Any])


def emulator_options(function: F) -> F:
    decorators = [
        click.option("--host", default="127.0.0.1", show_default=True, type=Host()),
        click.option("--port", default=0, show_default=True, type=PORT, help="0 = the OS picks a free port."),
        click.option("--aipkit", is_flag=True, help="Speak AI Power 2.x (AIPKit) instead of the legacy protocol."),
        click.option("--stream", is_flag=True, help="Legacy: answer as an event stream."),
        click.option("--page", type=click.Choice(list(PAGE_KINDS)), default="shortcode",
                     help="two-bots / same-bot-twice: a second chat box (bot 9 on AIPKit, --bot-id on legacy)."),
        click.option("--bot-id", default=42, show_default=True, type=Count(0), help="Bot id of the custom-bot page."),
        click.option("--nonce-life", default=86400.0, show_default=True, type=Seconds(),
                     help="WordPress nonce life, seconds."),
        click.option("--latency", default=0.0, type=Seconds(allow_zero=True), help="Seconds added to every answer."),
        click.option("--chunk-delay", default=0.0, type=Seconds(allow_zero=True), help="Seconds between chunks."),
        click.option("--fault-rate", default=0.0, type=Probability(), help="Probability that a request gets a fault."),
        click.option("--fault-seed", default=0, help="Seed of the fault sequence."),
        click.option("--faults", default=None, help="Comma-separated fault kinds (500,502,429,drop,truncate,nonce)."),
        click.option("--retry-after", default=1, type=Count(0), help="Retry-After of injected 429s, seconds."),
        click.option("--cloudflare", is_flag=True, help="Answer everything with a Cloudflare challenge."),
        click.option("--tls", is_flag=True, help="Serve HTTPS with a test CA (its file is printed)."),
        click.option("--cache-ttl", default=60.0, type=Seconds(), help="AIPKit: life of a cached message, seconds."),
        *site_feature_options(),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def emulator_config(options: dict[str, Any]) -> EmulatorConfig:
    faults = tuple(options.pop("faults").split(",")) if options.get("faults") else FAULT_KINDS
    options.pop("faults", None)
    unknown = set(faults) - set(FAULT_KINDS)
    if unknown:
        raise click.BadParameter(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")
    generation = "aipkit" if options.pop("aipkit") else "legacy"
    return EmulatorConfig(generation=generation, faults=faults, **feature_config(options), **options)


@click.command()
@emulator_options
def emulate(**options: Any) -> None:
    """Run a local site that speaks the AI Power protocol, until stopped (first line: its URL)."""
    config = emulator_config(options)
    if config.tls:
        try:
            require_trustme()
        except MissingRequirementsError as error:
            raise click.ClickException(str(error)) from None
    try:
        serve_forever(config)
    except OSError as error:  # the port is taken, the host is not this machine's, …
        where = f"{config.host}:{config.port}"
        raise click.ClickException(f"cannot serve on {where}: {error.strerror or error}") from None


@click.command()
def demo() -> None:
    """Offline demo: a local site of each generation, a short conversation, the per-stage trace."""
    run_async(run_demo())
