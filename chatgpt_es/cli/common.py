"""What every command that talks to a site shares: its options, the client they make, error handling."""

from __future__ import annotations

import asyncio
import sys
import traceback
import warnings
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, TypeVar

import click

from chatgpt_es.runtime.client import Client, RetryPolicy, Settings, Site
from chatgpt_es.runtime.logs import add_secrets, get_logger, redact_registered
from pipeline import ChatGptEs
from stages.errors import ChatGptEsError, InvalidArgumentError
from stages.redact import proxy_secrets
from stages.transport import InsecureTransportWarning, TransportOptions

from . import one_line
from .choices import choice_options, with_choices_given
from .types import Count, Host, Seconds, SiteUrl

F = TypeVar("F", bound=Callable[..., Any])
log = get_logger()


def debugging() -> bool:
    """True when ``chatgpt-es --debug`` was given (tracebacks allowed)."""
    context = click.get_current_context(silent=True)
    return bool(context is not None and context.find_root().params.get("debug"))


def run_async(coroutine: Coroutine[Any, Any, int]) -> None:
    """Run a command's coroutine; every failure is ONE line on stderr.

    A bad argument the library caught (:class:`InvalidArgumentError`) is a usage error, exit 2; a typed
    error of the site or the network, exit 1; anything else too, with ``--debug`` showing its traceback.
    """
    debug = debugging()
    try:
        code = asyncio.run(_quiet_loop(coroutine, debug))
    except InvalidArgumentError as error:
        raise click.UsageError(str(error)) from None
    except ChatGptEsError as error:
        fail(f"{type(error).__name__}: {error}", debug)
    except KeyboardInterrupt:
        sys.exit(130)
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except Exception as error:
        fail(f"unexpected {type(error).__name__}: {error}" + ("" if debug else " (--debug shows the traceback)"),
             debug)
    sys.exit(code)


def fail(message: str, debug: bool) -> NoReturn:
    if debug:
        traceback.print_exc()
    # an error's text may hold a proxy URL, or a secret the site echoed back (the REST key, a proxy password)
    click.echo(f"error: {one_line(redact_registered(message))}", err=True)
    sys.exit(1)


async def _quiet_loop(coroutine: Coroutine[Any, Any, int], debug: bool) -> int:
    """The coroutine, in a loop whose orphaned task errors ("Task exception was never retrieved") go to the
    debug log, not to the person's terminal: the command's own error already says what failed."""
    loop = asyncio.get_running_loop()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if debug:
            loop.default_exception_handler(context)
        else:
            log.debug("asyncio", message=str(context.get("message")), error=repr(context.get("exception")))

    loop.set_exception_handler(handler)
    return await coroutine


def site_options(function: F) -> F:
    """Options shared by every command that talks to a site."""
    decorators = [
        click.option("--url", default=ChatGptEs.url, show_default=True, type=SiteUrl(),
                     help="The chat page of the site."),
        click.option("--endpoint", default=None, type=SiteUrl(),
                     help="The AJAX endpoint (default: the one the page names)."),
        click.option("--proxy", default=None, help="Proxy URL, e.g. http://user:pass@host:port."),
        click.option("--system", "system_prompt", default=None, help="System prompt (default: the seed's)."),
        click.option("--timeout", default=180.0, show_default=True, type=Seconds(),
                     help="Deadline for a whole message, seconds."),
        click.option("--connect-timeout", default=10.0, show_default=True, type=Seconds(),
                     help="Connect deadline, seconds."),
        click.option("--read-timeout", default=60.0, show_default=True, type=Seconds(),
                     help="Longest silence between two received bytes, seconds."),
        click.option("--retries", default=4, show_default=True,
                     type=Count(1, "it counts attempts: 1 sends once and never retries"),
                     help="Attempts for transient failures (1 = no retry)."),
        click.option("--ca-file", default=None, type=click.Path(exists=True, dir_okay=False),
                     help="Verify TLS against this CA bundle (PEM)."),
        click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (loudly warned)."),
        click.option("--impersonate", default="chrome", show_default=True, help="Browser profile for curl_cffi."),
        *choice_options(),
        click.option("--allow-endpoint-host", "allow_endpoint_hosts", multiple=True, metavar="HOST", type=Host(),
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
    if insecure:  # said once, here; the library's own InsecureTransportWarning would say it again
        click.secho("WARNING: TLS verification is OFF: anyone on the path can read and change this chat.",
                    err=True, fg="red", bold=True)
        warnings.filterwarnings("ignore", category=InsecureTransportWarning)
    add_secrets(proxy_secrets(proxy))
    try:
        transport = TransportOptions(proxy=proxy, verify=False if insecure else (ca_file or True),
                                     impersonate=options.pop("impersonate"),
                                     connect_timeout=options.pop("connect_timeout"),
                                     read_timeout=options.pop("read_timeout"),
                                     allow_endpoint_hosts=options.pop("allow_endpoint_hosts", ()))
        settings = Settings(transport=transport, total_timeout=options.pop("timeout"),
                            retry=RetryPolicy(attempts=options.pop("retries")))
        if url == ChatGptEs.url and endpoint is None:
            site = ChatGptEs.site(system_prompt)
        else:
            site = Site(url=url, api_endpoint=endpoint,
                        system_prompt=ChatGptEs.SYSTEM_PROMPT if system_prompt is None else system_prompt)
        site = with_choices_given(site, options)
    except ValueError as error:  # InvalidArgumentError too: an option the library refuses is a usage error
        raise click.UsageError(str(error)) from None
    return Client(settings), site
