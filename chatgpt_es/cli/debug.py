"""Debugging commands: trace, stage, diagnose, record, regress."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import attrs
import click

from chatgpt_es.runtime.trace import Trace, summarize
from pipeline import ask
from stages.errors import ChatGptEsError
from stages.fetch import decode_page, fetch_page
from stages.models import AnswerHead, ChatBox, Extracted, Protocol
from stages.payload import build_payload, new_conversation, new_stamp
from stages.prompt import format_prompt
from stages.redact import redact_headers

from .choices import extract_for_bot
from .common import make_site, run_async, site_options
from .diagnose import diagnose_site
from .record import record_case
from .regress import LOCAL_FIXTURES, compare, find_cases, parse_bytes
from .render import render_json, render_lines, stage_json
from .types import WritableFolder

CASE_NAME = re.compile(r"[A-Za-z0-9._-]+")


def _colour(stream: Any) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise click.BadParameter(f"cannot read {path}: {error.strerror}") from None


@click.command()
@click.argument("message")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per stage per line.")
@site_options
def trace(message: str, as_json: bool, **options: Any) -> None:
    """Run the whole pipeline once and show every stage: time, output, and where it failed."""
    client, site = make_site(options)

    async def run() -> int:
        record = Trace()
        answer: list[str] = []
        error: ChatGptEsError | None = None
        async with client:
            try:
                async for chunk in ask(client, site, [{"role": "user", "content": message}], trace=record):
                    answer.append(chunk)
            except ChatGptEsError as caught:
                error = caught
        lines = render_json(record.records) if as_json else render_lines(record.records)
        for line in lines:
            failed = '"ok": false' in line or " ERR " in line
            click.secho(line, fg="red" if failed and _colour(sys.stdout) else None)
        if as_json:
            click.echo(json.dumps({"answer": "".join(answer), "error": _error_facts(error)}, ensure_ascii=False))
        else:
            box = next((r.output for r in record.records if r.stage == "extract" and r.ok), None)
            if box is not None and box.used_defaults:
                click.echo("note: extraction fell back to the seed's default nonce/post_id — see `diagnose`.")
            click.echo(f"answer: {''.join(answer)}" if error is None else f"failed: {type(error).__name__}: {error}")
        return 0 if error is None else 1

    run_async(run())


def _error_facts(error: BaseException | None) -> dict[str, str] | None:
    return None if error is None else {"type": type(error).__name__, "message": str(error)}


@click.command()
@site_options
@click.option("--message", default="Hello", show_default=True, help="The test message to send.")
def diagnose(message: str, **options: Any) -> None:
    """Check a live site step by step and say what is wrong and what to try."""
    client, site = make_site(options)

    async def run() -> int:
        async with client:
            findings, ok = await diagnose_site(client, site, message)
        for finding in findings:
            click.echo(finding)
        return 0 if ok else 1

    run_async(run())


@click.group()
def stage() -> None:
    """Run one stage alone on saved input and print its output as JSON (FILE may be -)."""


@stage.command("extract")
@click.argument("page")
@click.option("--bot", default=None, metavar="ID", help="The chat box of this bot (default: the first).")
def stage_extract(page: str, bot: str | None) -> None:
    """PAGE.html → nonce, post_id (with their rules), and the chat box's other fields."""
    click.echo(stage_json(extract_for_bot(decode_page(_read(page), ""), bot)))


@stage.command("parse")
@click.argument("answer")
@click.option("--content-type", default=None, help="Default: guessed from the bytes (event stream or JSON).")
@click.option("--status", default=200, show_default=True, type=click.IntRange(100, 599))
@click.option("--protocol", type=click.Choice(["legacy", "aipkit", "rest"]), default="legacy", show_default=True)
@click.option("--purpose", type=click.Choice(["message", "cache", "stream", "nonce", "rest"]), default=None)
@click.option("--retry-after", default=None, help="A Retry-After header value.")
def stage_parse(answer: str, content_type: str | None, status: int, protocol: str, purpose: str | None,
                retry_after: str | None) -> None:
    """ANSWER bytes → the text chunks, follow-up or typed error they mean."""
    data = _read(answer)
    if content_type is None:
        stripped = data.lstrip()
        content_type = "text/event-stream" if stripped.startswith((b"data:", b":", b"event:")) else "application/json"
    headers = [("content-type", content_type)] + ([("retry-after", retry_after)] if retry_after else [])
    if purpose is None:
        purpose = {"aipkit": "stream" if "event-stream" in content_type else "cache", "rest": "rest"}.get(
            protocol, "message")
    result = parse_bytes(protocol, purpose, AnswerHead("", status, tuple(headers)), [data], with_message=True)
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    sys.exit(1 if result["error"] else 0)


@stage.command("payload")
@click.option("--nonce", required=True)
@click.option("--message", required=True)
@click.option("--post-id", default="106", show_default=True)
@click.option("--bot-id", default="0", show_default=True)
@click.option("--type", "box_type", type=click.Choice(["shortcode", "widget"]), default="shortcode")
@click.option("--protocol", type=click.Choice(["legacy", "aipkit"]), default="legacy", show_default=True)
@click.option("--url", default="https://chatgpt.es", show_default=True)
@click.option("--endpoint", default=None)
@click.option("--system", "system_prompt", default="", help="System prompt to put before the message.")
def stage_payload(nonce: str, message: str, post_id: str, bot_id: str, box_type: str, protocol: str, url: str,
                  endpoint: str | None, system_prompt: str) -> None:
    """A message and the page's values → the request the site expects."""
    generation: Protocol = "aipkit" if protocol == "aipkit" else "legacy"  # click.Choice allows only these two
    box = ChatBox(protocol=generation, markup=None, nonce=Extracted(nonce, "given"),
                  post_id=Extracted(post_id, "given"), bot_id=bot_id, box_type=box_type)
    prompt = format_prompt([{"role": "user", "content": message}], system_prompt)
    endpoint = endpoint or url.rstrip("/") + "/wp-admin/admin-ajax.php"
    click.echo(stage_json(build_payload(prompt, box, new_conversation(), endpoint, new_stamp(), url)))


@stage.command("prompt")
@click.argument("messages")
@click.option("--system", "system_prompt", default="", help="System prompt to put first.")
def stage_prompt(messages: str, system_prompt: str) -> None:
    """MESSAGES.json (a list of {role, content}) → the prompt and the site-safe history."""
    try:
        loaded = json.loads(_read(messages))
    except ValueError as error:
        raise click.BadParameter(f"{messages} is not JSON: {error}") from None
    try:
        click.echo(json.dumps(_asdict(format_prompt(loaded, system_prompt)), ensure_ascii=False, indent=2))
    except ChatGptEsError as error:
        click.echo(f"error: {type(error).__name__}: {error}", err=True)
        sys.exit(1)


@stage.command("fetch")
@site_options
def stage_fetch(**options: Any) -> None:
    """GET the chat page (--url) and print its status, headers and size."""
    client, site = make_site(options)

    async def run() -> int:
        async with client:
            page = await fetch_page(client.session, site.url, client.settings.transport)
        facts = summarize(page)
        facts["headers"] = [[name, value] for name, value in redact_headers(page.headers)]
        click.echo(json.dumps(facts, ensure_ascii=False, indent=2, default=str))
        return 0

    run_async(run())


def _asdict(value: Any) -> Any:
    return attrs.asdict(value) if attrs.has(type(value)) else value


@click.command()
@click.argument("path", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
def regress(path: Path | None) -> None:
    """Replay every saved fixture case (no network) and diff each stage against its expectation."""
    root = path or LOCAL_FIXTURES
    if not root.is_dir():
        raise click.UsageError(f"no fixtures folder at {root.resolve()}: give PATH, or run from a folder that has "
                               "./fixtures (`chatgpt-es record` makes one)")
    cases = find_cases(root)
    if not cases:
        raise click.BadParameter(f"no case.json under {root}")
    interactive = _colour(sys.stderr)
    failures = 0
    for index, case in enumerate(cases, start=1):
        if interactive:
            click.echo(f"\r[{index}/{len(cases)}] {case.name:<50}", nl=False, err=True)
        for mismatch in compare(case, root):
            failures += 1
            if interactive:
                click.echo("", err=True)
            click.secho(f"MISMATCH {mismatch.case} at stage {mismatch.stage}", fg="red" if interactive else None)
            click.echo(mismatch.diff)
    if interactive:
        click.echo("\r" + " " * 60 + "\r", nl=False, err=True)
    click.echo(f"{len(cases)} cases, {failures} mismatches")
    sys.exit(1 if failures else 0)


def _case_name(_ctx: click.Context, _param: click.Parameter, name: str) -> str:
    """A plain folder name: recording must never write outside the folder it is told."""
    if not CASE_NAME.fullmatch(name) or name in {".", ".."}:
        raise click.BadParameter(f"{name!r} is not a plain name (letters, digits, '.', '_', '-'; no '/' or '..')")
    return name


@click.command()
@click.argument("name", callback=_case_name)
@click.argument("message")
@click.option("--into", default=None, type=WritableFolder(),
              help="Save the case in this folder (default: ./fixtures/recorded/NAME).")
@site_options
def record(name: str, message: str, into: Path | None, **options: Any) -> None:
    """Run MESSAGE against a site and save page, answers and each stage's output as a fixture case."""
    client, site = make_site(options)
    target = into or LOCAL_FIXTURES / "recorded" / name

    async def run() -> int:
        async with client:
            saved = await record_case(client, site, message, target)
        click.echo(f"saved {saved}")
        return 0

    run_async(run())


