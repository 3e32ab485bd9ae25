"""``chatgpt-es serve``: the OpenAI-compatible HTTP API in the foreground (first line printed: its base URL)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import click

from chatgpt_es.runtime.logs import add_secrets
from chatgpt_es.server import ServerConfig, SiteEntry, load_sites, serve
from chatgpt_es.server.run import is_loopback
from chatgpt_es.server.sites import DEFAULT_NAME
from pipeline import InvalidArgumentError

from .common import make_site, site_options
from .types import PORT, Host


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, type=Host(), help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=PORT, help="0 = the OS picks a free port.")
@click.option("--api-key", envvar="CHATGPT_ES_API_KEY", default=None,
              help="Require 'Authorization: Bearer KEY' (also CHATGPT_ES_API_KEY).")
@click.option("--sites", "sites_file", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TOML file: model id → url and options; each site is a model id.")
@click.option("--concurrency", default=16, show_default=True, type=click.IntRange(min=1),
              help="Concurrent site requests per site; the rest queue.")
@site_options
def serve_command(host: str, port: int, api_key: str | None, sites_file: Path | None, concurrency: int,
                  **options: Any) -> None:
    """Serve an OpenAI-compatible API (/v1/chat/completions, /v1/models) in front of the site."""
    client, site = make_site(options)  # the client is only its settings here: the server opens its own
    sites: dict[str, SiteEntry] = {}
    if sites_file is not None:
        try:
            sites = load_sites(sites_file, site.system_prompt, concurrency)
        except InvalidArgumentError as error:
            raise click.BadParameter(str(error), param_hint="--sites") from None
    if api_key:
        add_secrets((api_key,))
    elif not is_loopback(host):
        click.secho(f"WARNING: serving on {host} without an API key: anyone who can reach this address can use "
                    "the site through it. Set --api-key or CHATGPT_ES_API_KEY.", err=True, fg="red", bold=True)
    config = ServerConfig(default=SiteEntry(DEFAULT_NAME, site, concurrency), sites=sites, api_key=api_key or None,
                          settings=client.settings)

    def ready(url: str) -> None:
        click.echo(url)
        click.echo(f"OpenAI base URL: {url}/v1", err=True)

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(config, host, port, ready))
    except OSError as error:  # the port is taken, the address is not this machine's, …
        raise click.ClickException(f"cannot serve on {host}:{port}: {error.strerror or error}") from None
