"""What every command that talks to a site shares: its options, the client they make, error handling."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click

from chatgpt_es.runtime.client import Client, RetryPolicy, Settings, Site
from chatgpt_es.runtime.logs import add_secrets
from pipeline import ChatGptEs
from stages.errors import ChatGptEsError
from stages.redact import proxy_secrets
from stages.transport import TransportOptions

F = TypeVar("F", bound=Callable[..., Any])


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
    decorators = [
        click.option("--url", default=ChatGptEs.url, show_default=True, help="The chat page of the site."),
        click.option("--endpoint", default=None, help="The AJAX endpoint (default: the one the page names)."),
        click.option("--proxy", default=None, help="Proxy URL, e.g. http://user:pass@host:port."),
        click.option("--system", "system_prompt", default=None, help="System prompt (default: the seed's)."),
        click.option("--timeout", default=180.0, show_default=True, help="Deadline for a whole message, seconds."),
        click.option("--connect-timeout", default=10.0, show_default=True, help="Connect deadline, seconds."),
        click.option("--read-timeout", default=60.0, show_default=True,
                     help="Longest silence between two received bytes, seconds."),
        click.option("--retries", default=4, show_default=True, help="Attempts for transient failures."),
        click.option("--ca-file", default=None, type=click.Path(exists=True, dir_okay=False),
                     help="Verify TLS against this CA bundle (PEM)."),
        click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (loudly warned)."),
        click.option("--impersonate", default="chrome", show_default=True, help="Browser profile for curl_cffi."),
        click.option("--allow-endpoint-host", "allow_endpoint_hosts", multiple=True, metavar="HOST",
                     help="Let the page send messages to this host although it is another site (repeatable)."),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def make_site(options: dict[str, Any]) -> tuple[Client, Site]:
    """A client and a site from the shared options (they are removed from ``options``)."""
    url = options.pop("url")
    endpoint = options.pop("endpoint")
    system_prompt = options.pop("system_prompt")
    insecure = options.pop("insecure")
    ca_file = options.pop("ca_file")
    proxy = options.pop("proxy")
    if insecure:
        click.secho("WARNING: TLS verification is OFF: anyone on the path can read and change this chat.",
                    err=True, fg="red", bold=True)
    add_secrets(proxy_secrets(proxy))
    try:  # a bad option value is a usage error: one line, no traceback
        transport = TransportOptions(proxy=proxy, verify=False if insecure else (ca_file or True),
                                     impersonate=options.pop("impersonate"),
                                     connect_timeout=options.pop("connect_timeout"),
                                     read_timeout=options.pop("read_timeout"),
                                     allow_endpoint_hosts=options.pop("allow_endpoint_hosts", ()))
    except ChatGptEsError as error:
        raise click.UsageError(str(error)) from None
    settings = Settings(transport=transport, total_timeout=options.pop("timeout"),
                        retry=RetryPolicy(attempts=max(1, options.pop("retries"))))
    if url == ChatGptEs.url and endpoint is None:
        site = ChatGptEs.site(system_prompt)
    else:
        site = Site(url=url, api_endpoint=endpoint,
                    system_prompt=ChatGptEs.SYSTEM_PROMPT if system_prompt is None else system_prompt)
    return Client(settings), site
