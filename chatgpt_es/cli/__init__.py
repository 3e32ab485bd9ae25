"""The ``chatgpt-es`` command line.

Subcommands are loaded when used, so a command pays at start-up only for what it imports itself:
``chatgpt-es --help`` loads neither curl_cffi, aiohttp, structlog nor the local site.
"""

from __future__ import annotations

import importlib

import click

#: name → (module, attribute, one-line help shown by ``--help`` without importing the module)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "ask": ("chatgpt_es.cli.ask", "ask", "Send MESSAGE and stream the answer to stdout."),
    "demo": ("chatgpt_es.cli.local", "demo", "Offline demo against local sites of both generations."),
    "emulate": ("chatgpt_es.cli.local", "emulate", "Run a local AI Power site until stopped."),
    "trace": ("chatgpt_es.cli.debug", "trace", "Run the whole pipeline once and show every stage."),
    "diagnose": ("chatgpt_es.cli.debug", "diagnose", "Check a live site step by step and say what to try."),
    "stage": ("chatgpt_es.cli.debug", "stage", "Run one stage alone on saved input and print its output."),
    "record": ("chatgpt_es.cli.debug", "record", "Save a site's page and answers as a fixture case."),
    "regress": ("chatgpt_es.cli.debug", "regress", "Replay saved fixture cases through the stages and diff them."),
    "batch": ("chatgpt_es.cli.batch", "batch", "Send every item of INPUT.jsonl; append results to OUTPUT.jsonl."),
    "soak": ("chatgpt_es.cli.soak", "soak_command", "Many messages against a local site that injects faults."),
    "serve": ("chatgpt_es.cli.serve", "serve_command", "Serve an OpenAI-compatible API in front of the site."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (click's documented lazy-loading pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute, _ = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module}.{attribute} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_, _, summary) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="-v: info logs, -vv: debug logs (also CHATGPT_ES_LOG=debug).")
@click.version_option(package_name="chatgpt-es")
def main(verbose: int) -> None:
    """Talk to chatgpt.es and other sites running the AI Power (wpaicg / AIPKit) chat plugin."""
    # imported here, not at the top: logging (structlog) and stamina cost start-up time that --help need not pay
    import stamina.instrumentation

    from chatgpt_es.runtime.logs import configure_logging, level_from

    configure_logging(level_from(verbose))
    stamina.instrumentation.set_on_retry_hooks([])  # retries are logged by the pipeline itself
