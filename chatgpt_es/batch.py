"""``chatgpt-es batch``: many conversations from a JSONL file, with bounded concurrency, a rate and resume.

INPUT lines: ``{"id": …, "message": "…"}`` or ``{"id": …, "messages": [{role, content}, …]}`` (blank lines
skipped).  OUTPUT gets one JSON line per item as it finishes, flushed at once: ``{"id", "line", "answer",
"error": null | {"type", "message"}, "started_at", "ms", "attempts"}``.  A bad INPUT line (not JSON, no id,
duplicate id, neither ``message`` nor ``messages``…) becomes a result line with error type
``InvalidInputLine`` naming its line number (``id`` null when the line has no id of its own).
Rerunning with the same OUTPUT resumes: an id whose **last** line there has ``error: null`` is skipped, the
others are sent again and their new line appended — the last line for an id wins.  The input is read
lazily by a fixed pool of workers behind a small queue, so memory stays flat for any input size.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import click

from stages.errors import ChatGptEsError
from stages.prompt import format_prompt

from .cli_common import make_site, run_async, site_options
from .client import Client, Site
from .trace import Trace

BAD_LINE = "InvalidInputLine"
Id = str | int


@attrs.frozen
class BatchItem:
    id: Id
    line: int
    messages: list[Any]


@attrs.frozen
class BatchResult:
    id: Id | None
    line: int
    answer: str | None
    error: dict[str, str] | None
    started_at: str
    ms: float
    attempts: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self, filter=lambda field, value: field.name != "attempts" or value is not None)


@attrs.frozen
class BatchSummary:
    total: int
    succeeded: int
    failed: int
    skipped: int
    elapsed: float

    @property
    def rate(self) -> float:
        return (self.succeeded + self.failed) / self.elapsed if self.elapsed > 0 else 0.0

    def line(self) -> str:
        return (f"batch: {self.total} total, {self.succeeded} succeeded, {self.failed} failed, "
                f"{self.skipped} skipped, {self.elapsed:.1f} s, {self.rate:.2f} messages/s")


ItemRunner = Callable[[Client, Site, BatchItem], Awaitable[BatchResult]]


class RateLimiter:
    """At most ``rate`` starts per second: callers go one at a time and each waits ``1/rate`` after the last."""

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate!r}")
        self.interval = 1.0 / rate
        self._next = float("-inf")
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:  # FIFO; sleeping, never spinning
            loop = asyncio.get_running_loop()
            if (delay := self._next - loop.time()) > 0:
                await asyncio.sleep(delay)
            self._next = loop.time() + self.interval


def _now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def _bad(line: int, problem: str, key: Id | None = None) -> BatchResult:
    return BatchResult(key, line, None, {"type": BAD_LINE, "message": f"line {line}: {problem}"}, _now_iso(), 0.0)


def _decode(raw: bytes, line: int) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return _bad(line, "not UTF-8")
    except json.JSONDecodeError as error:
        return _bad(line, f"not JSON ({error.msg} at column {error.colno})")


class IdIndex:
    """Ids met so far, each with a number, kept in a temporary SQLite file.

    Duplicate detection and resume need every id seen; on disk, a batch of any size keeps flat memory.
    """

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="chatgpt-es-batch-")
        self._db = sqlite3.connect(Path(self._folder.name) / "ids.sqlite3")
        self._db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; "
                               "CREATE TABLE ids (key TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID;")

    def get(self, key: Id) -> int | None:
        row = self._db.execute("SELECT value FROM ids WHERE key = ?", (json.dumps(key),)).fetchone()
        return None if row is None else int(row[0])

    def put(self, key: Id, value: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO ids VALUES (?, ?)", (json.dumps(key), value))

    def close(self) -> None:
        self._db.close()
        self._folder.cleanup()

    def __enter__(self) -> IdIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parse(data: Any, line: int, seen: IdIndex) -> BatchItem | BatchResult:
    if isinstance(data, BatchResult):
        return data
    if not isinstance(data, dict):
        return _bad(line, f"not a JSON object but {type(data).__name__}")
    key = data.get("id")
    if isinstance(key, bool) or not isinstance(key, str | int) or key == "":
        return _bad(line, "no id (a non-empty string or an integer)")
    first = seen.get(key)
    if first is not None:
        return _bad(line, f"duplicate id {key!r} (first on line {first})")
    seen.put(key, line)
    has_one, has_many = "message" in data, "messages" in data
    if has_one == has_many:
        return _bad(line, 'both "message" and "messages"' if has_one else 'neither "message" nor "messages"', key)
    if has_one and not isinstance(data["message"], str):
        return _bad(line, '"message" is not a string', key)
    messages = [{"role": "user", "content": data["message"]}] if has_one else data["messages"]
    try:
        format_prompt(messages)
    except ChatGptEsError as error:
        return _bad(line, f'bad "messages": {error}', key)
    return BatchItem(key, line, messages)


def read_items(source: str | Path | Iterable[Any]) -> Iterator[BatchItem | BatchResult]:
    """Items one at a time from a JSONL file (blank lines skipped) or from an iterable of dicts (line = its
    1-based position); a bad one is already its error result."""
    with IdIndex() as seen:
        if not isinstance(source, str | Path):
            for number, data in enumerate(source, start=1):
                yield _parse(data, number, seen)
            return
        with open(source, "rb") as lines:
            for number, raw in enumerate(lines, start=1):
                if raw.strip():
                    yield _parse(_decode(raw, number), number, seen)


def scan_output(path: str | Path, last: IdIndex) -> bool:
    """Record in ``last`` whether each id's last result line in ``path`` succeeded (1) or not (0); unreadable
    lines are ignored.  Returns whether the file's last line is torn (cut by a crash)."""
    torn = False
    if Path(path).exists():
        with open(path, "rb") as lines:
            for raw in lines:
                torn = not raw.endswith(b"\n")
                try:
                    data = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(data, dict) and isinstance(data.get("id"), str | int):
                    last.put(data["id"], int(data.get("error") is None))
    return torn


async def run_item(client: Client, site: Site, item: BatchItem) -> BatchResult:
    """One conversation through the pipeline; any failure becomes the result's ``error``."""
    from pipeline import ask

    trace = Trace(context={"batch_id": item.id})
    started_at, start = _now_iso(), time.perf_counter()
    answer, error = None, None
    try:
        answer = "".join([chunk async for chunk in ask(client, site, item.messages, trace=trace)])
    except Exception as caught:  # one failure must never stop the others
        error = {"type": type(caught).__name__, "message": str(caught)}
    attempts = 1 + sum(1 for record in trace.records if record.stage == "retry")
    return BatchResult(item.id, item.line, answer, error, started_at, round((time.perf_counter() - start) * 1000, 1),
                       attempts)


async def run_batch(client: Client, site: Site, items: str | Path | Iterable[Any], output_path: str | Path, *,
                    concurrency: int = 4, rate: float | None = None,
                    on_result: Callable[[BatchResult], None] | None = None,
                    on_skip: Callable[[Id], None] | None = None, runner: ItemRunner = run_item) -> BatchSummary:
    """Send every item (a JSONL file, or dicts); append results to ``output_path`` and resume from it.

    At most ``concurrency`` items are under way at once, and at most ``rate`` start per second.
    ``on_result`` sees each new result line, ``on_skip`` the id of each item skipped because OUTPUT already
    has its answer; ``runner`` does one item (default :func:`run_item`).
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency!r}")
    limiter = RateLimiter(rate) if rate else None
    done = IdIndex()
    torn = scan_output(output_path, done)
    counts = {"total": 0, "succeeded": 0, "failed": 0, "skipped": 0}
    loop = asyncio.get_running_loop()
    start = loop.time()
    queue: asyncio.Queue[BatchItem | None] = asyncio.Queue(maxsize=concurrency)
    with open(output_path, "a", encoding="utf-8") as out:
        if torn:  # a line cut by a crash: start ours on a fresh line
            out.write("\n")

        def emit(result: BatchResult) -> None:
            out.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
            out.flush()
            counts["succeeded" if result.ok else "failed"] += 1
            if on_result is not None:
                on_result(result)

        async def produce() -> None:
            for item in read_items(items):
                counts["total"] += 1
                if isinstance(item, BatchResult):
                    emit(item)
                elif done.get(item.id) == 1:
                    counts["skipped"] += 1
                    if on_skip is not None:
                        on_skip(item.id)
                else:
                    await queue.put(item)
            for _ in range(concurrency):
                await queue.put(None)

        async def work() -> None:
            while (item := await queue.get()) is not None:
                if limiter is not None:
                    await limiter.wait()
                emit(await runner(client, site, item))

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(produce())
                for _ in range(concurrency):
                    group.create_task(work())
        finally:
            done.close()
    return BatchSummary(elapsed=loop.time() - start, **counts)


def _progress(stack: contextlib.ExitStack, path: str) -> tuple[Callable[[BatchResult], None], Callable[[Id], None]]:
    """A rich progress bar on a terminal (rich respects NO_COLOR); when piped, a plain line per failure."""
    def failure(r: BatchResult) -> str:
        return f"failed {r.id!r} (line {r.line}): {r.error['type']}: {r.error['message']}" if r.error else ""

    if not sys.stderr.isatty():
        return (lambda r: click.echo(failure(r), err=True) if r.error else None), lambda _: None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with open(path, "rb") as lines:
        total = sum(1 for raw in lines if raw.strip())
    bar = stack.enter_context(Progress(
        TextColumn("batch"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[failed]} failed"),
        TextColumn("{task.fields[skipped]} skipped"), TextColumn("{task.fields[rate]:.2f} msg/s"),
        TimeElapsedColumn(), console=Console(stderr=True)))
    task = bar.add_task("batch", total=total, failed=0, skipped=0, rate=0.0)
    seen, start = {"sent": 0, "failed": 0, "skipped": 0}, time.perf_counter()

    def update(result: BatchResult) -> None:
        seen["sent"], seen["failed"] = seen["sent"] + 1, seen["failed"] + (not result.ok)
        bar.update(task, advance=1, failed=seen["failed"], rate=seen["sent"] / (time.perf_counter() - start))
        if result.error:
            bar.console.print(failure(result), markup=False, highlight=False)

    def skip(_: Id) -> None:
        seen["skipped"] += 1
        bar.update(task, advance=1, skipped=seen["skipped"])

    return update, skip


@click.command()
@click.argument("input_path", metavar="INPUT.jsonl", type=click.Path(exists=True, dir_okay=False))
@click.argument("output_path", metavar="OUTPUT.jsonl", type=click.Path(dir_okay=False))
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(min=1),
              help="Conversations under way at once.")
@click.option("--rate", default=None, type=click.FloatRange(min=0, min_open=True),
              help="At most this many message starts per second (starts at least 1/RATE s apart).")
@site_options
def batch(input_path: str, output_path: str, concurrency: int, rate: float | None, **options: Any) -> None:
    """Send every item of INPUT.jsonl; append one result line per item to OUTPUT.jsonl.

    INPUT lines: {"id": ..., "message": "..."} or {"id": ..., "messages": [{"role", "content"}, ...]}.
    Rerun with the same OUTPUT to resume: ids whose last line there succeeded are skipped, failed ones are
    sent again (the last line for an id wins).  Exit status 1 if any item failed.
    """
    if Path(input_path).resolve() == Path(output_path).resolve():
        raise click.BadParameter("OUTPUT must not be INPUT", param_hint="OUTPUT.jsonl")
    client, site = make_site(options)

    async def run() -> int:
        with contextlib.ExitStack() as stack:
            on_result, on_skip = _progress(stack, input_path)
            async with client:
                summary = await run_batch(client, site, input_path, output_path, concurrency=concurrency,
                                          rate=rate, on_result=on_result, on_skip=on_skip)
        click.echo(summary.line(), err=True)
        return 0 if summary.failed == 0 else 1

    run_async(run())
