"""The ``chatgpt-es`` command line.

Subcommands are loaded when used, so a command pays at start-up only for what it imports itself:
``chatgpt-es --help`` loads neither curl_cffi, aiohttp, structlog nor the local site.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import Any

import click


def one_line(text: str) -> str:
    """``text`` on one line (an error message must never spill over several)."""
    return " ".join(text.split())

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

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        """click's main, but a usage error is ONE line (``error: …``, exit 2) and nothing ever prints a traceback
        unless ``--debug`` is given (see :func:`chatgpt_es.cli.common.run_async` for failed messages)."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as error:
            click.echo(error.format_message(), err=True)  # the help itself: shown whole
            sys.exit(2)
        except click.UsageError as error:
            where = f" (see: {error.ctx.command_path} --help)" if error.ctx is not None else ""
            click.echo(f"error: {one_line(error.format_message())}{where}", err=True)
            sys.exit(2)
        except click.ClickException as error:
            click.echo(f"error: {one_line(error.format_message())}", err=True)
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(130)
        except KeyboardInterrupt:
            sys.exit(130)
        except Exception as error:  # a command outside run_async (stage …) that failed: still one line
            from stages.errors import ChatGptEsError, InvalidArgumentError

            if "--debug" in (sys.argv[1:] if args is None else list(args)):
                traceback.print_exc()
            if isinstance(error, InvalidArgumentError):
                click.echo(f"error: {one_line(str(error))}", err=True)
                sys.exit(2)
            kind = type(error).__name__ if isinstance(error, ChatGptEsError) else f"unexpected {type(error).__name__}"
            click.echo(f"error: {kind}: {one_line(str(error))}", err=True)
            sys.exit(1)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_, _, summary) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="-v: info logs, -vv: debug logs (also CHATGPT_ES_LOG=debug).")
@click.option("--debug", is_flag=True, help="On an unexpected failure, show the Python traceback.")
@click.version_option(package_name="chatgpt-es")
def main(verbose: int, debug: bool) -> None:
    """Talk to chatgpt.es and other sites running the AI Power (wpaicg / AIPKit) chat plugin."""
    # imported here, not at the top: logging (structlog) costs start-up time that --help need not pay
    from chatgpt_es.runtime.logs import configure_logging, level_from

    configure_logging(level_from(verbose))
