"""The ``chatgpt-es`` command line: ask, emulate, demo (and the debugging commands of cli_debug)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click

from stages.errors import ChatGptEsError

from .client import Client, RetryPolicy, Settings, Site
from .logs import add_secrets, configure_logging, get_logger, level_from

F = TypeVar("F", bound=Callable[..., Any])
log = get_logger()


def run_async(coroutine: Coroutine[Any, Any, int]) -> None:
    """Run a command's coroutine; typed errors become one clear line on stderr and exit status 1."""
    try:
        code = asyncio.run(coroutine)
    except ChatGptEsError as error:
        click.echo(f"error: {type(error).__name__}: {error}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code)


def site_options(function: F) -> F:
    """Options shared by every command that talks to a site."""
    from pipeline import ChatGptEs

    decorators = [
        click.option("--url", default=ChatGptEs.url, show_default=True, help="The chat page of the site."),
        click.option("--endpoint", default=None, help="The AJAX endpoint (default: the one the page names)."),
        click.option("--proxy", default=None, help="Proxy URL, e.g. http://user:pass@host:port."),
        click.option("--system", "system_prompt", default=None, help="System prompt (default: the seed's)."),
        click.option("--timeout", default=180.0, show_default=True, help="Deadline for a whole message, seconds."),
        click.option("--connect-timeout", default=10.0, show_default=True, help="Connect deadline, seconds."),
        click.option("--read-timeout", default=60.0, show_default=True, help="Deadline between two reads, seconds."),
        click.option("--retries", default=4, show_default=True, help="Attempts for transient failures."),
        click.option("--ca-file", default=None, type=click.Path(exists=True, dir_okay=False),
                     help="Verify TLS against this CA bundle (PEM)."),
        click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (loudly warned)."),
        click.option("--impersonate", default="chrome", show_default=True, help="Browser profile for curl_cffi."),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def make_site(options: dict[str, Any]) -> tuple[Client, Site]:
    """A client and a site from the shared options (they are removed from ``options``)."""
    from pipeline import ChatGptEs

    url = options.pop("url")
    endpoint = options.pop("endpoint")
    system_prompt = options.pop("system_prompt")
    insecure = options.pop("insecure")
    ca_file = options.pop("ca_file")
    proxy = options.pop("proxy")
    if insecure:
        click.secho("WARNING: TLS verification is OFF: anyone on the path can read and change this chat.",
                    err=True, fg="red", bold=True)
    from stages.redact import proxy_secrets
    from stages.transport import TransportOptions

    add_secrets(proxy_secrets(proxy))
    transport = TransportOptions(proxy=proxy, verify=False if insecure else (ca_file or True),
                                 impersonate=options.pop("impersonate"),
                                 connect_timeout=options.pop("connect_timeout"),
                                 read_timeout=options.pop("read_timeout"))
    settings = Settings(transport=transport, total_timeout=options.pop("timeout"),
                        retry=RetryPolicy(attempts=max(1, options.pop("retries"))))
    if url == ChatGptEs.url and endpoint is None:
        site = ChatGptEs.site(system_prompt)
    else:
        site = Site(url=url, api_endpoint=endpoint,
                    system_prompt=ChatGptEs.SYSTEM_PROMPT if system_prompt is None else system_prompt)
    return Client(settings), site


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="-v: info logs, -vv: debug logs (also CHATGPT_ES_LOG=debug).")
@click.version_option(package_name="chatgpt-es")
def main(verbose: int) -> None:
    """Talk to chatgpt.es and other sites running the AI Power (wpaicg / AIPKit) chat plugin."""
    configure_logging(level_from(verbose))
    import stamina.instrumentation

    stamina.instrumentation.set_on_retry_hooks([])  # retries are logged by the pipeline itself


@main.command()
@click.argument("message")
@click.option("--model", default=None, help="gpt-4, gpt-4o or gpt-4o-mini (the site decides in the end).")
@site_options
def ask(message: str, model: str | None, **options: Any) -> None:
    """Send MESSAGE and stream the answer to stdout."""
    client, site = make_site(options)

    async def run() -> int:
        from pipeline import ask as ask_site

        async with client:
            async for chunk in ask_site(client, site, [{"role": "user", "content": message}]):
                sys.stdout.write(chunk)
                sys.stdout.flush()
        sys.stdout.write("\n")
        return 0

    run_async(run())


def emulator_options(function: F) -> F:
    decorators = [
        click.option("--host", default="127.0.0.1", show_default=True),
        click.option("--port", default=0, show_default=True, help="0 = the OS picks a free port."),
        click.option("--aipkit", is_flag=True, help="Speak AI Power 2.x (AIPKit) instead of the legacy protocol."),
        click.option("--stream", is_flag=True, help="Legacy: answer as an event stream."),
        click.option("--page", type=click.Choice(["shortcode", "widget", "custom-bot"]), default="shortcode"),
        click.option("--bot-id", default=42, show_default=True, help="Bot id of the custom-bot page."),
        click.option("--nonce-life", default=86400.0, show_default=True, help="WordPress nonce life, seconds."),
        click.option("--latency", default=0.0, help="Seconds added to every answer."),
        click.option("--chunk-delay", default=0.0, help="Seconds between stream chunks."),
        click.option("--fault-rate", default=0.0, help="Probability that a request gets a fault."),
        click.option("--fault-seed", default=0, help="Seed of the fault sequence."),
        click.option("--faults", default=None, help="Comma-separated fault kinds (500,502,429,drop,truncate,nonce)."),
        click.option("--retry-after", default=1, help="Retry-After of injected 429s, seconds."),
        click.option("--cloudflare", is_flag=True, help="Answer everything with a Cloudflare challenge."),
        click.option("--tls", is_flag=True, help="Serve HTTPS with a test CA (its file is printed)."),
        click.option("--cache-ttl", default=60.0, help="AIPKit: life of a cached message, seconds."),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def emulator_config(options: dict[str, Any]) -> Any:
    from .emulator import FAULT_KINDS, EmulatorConfig

    faults = tuple(options.pop("faults").split(",")) if options.get("faults") else FAULT_KINDS
    options.pop("faults", None)
    unknown = set(faults) - set(FAULT_KINDS)
    if unknown:
        raise click.BadParameter(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")
    generation = "aipkit" if options.pop("aipkit") else "legacy"
    return EmulatorConfig(generation=generation, faults=faults, **options)


@main.command()
@emulator_options
def emulate(**options: Any) -> None:
    """Run a local site that speaks the AI Power protocol, until stopped (first line: its URL)."""
    from .emulator import serve_forever

    serve_forever(emulator_config(options))


@main.command()
def demo() -> None:
    """Offline demo: a local site of each generation, a short conversation, the per-stage trace."""
    from .demo import run_demo

    run_async(run_demo())


def _register() -> None:
    from . import cli_debug
    from .batch import batch

    for command in cli_debug.COMMANDS:
        main.add_command(command)
    main.add_command(batch)
    from .soak import soak_command

    main.add_command(soak_command)


_register()

