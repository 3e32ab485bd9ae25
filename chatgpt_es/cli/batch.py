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
import json
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import attrs
import click

from chatgpt_es.runtime.client import Client, Site
from chatgpt_es.runtime.trace import Trace
from pipeline import ask

from .batch_files import BatchItem, BatchResult, Id, IdIndex, now_iso, read_items, scan_output
from .common import make_site, run_async, site_options
from .types import Count, Seconds, WritableFile

__all__ = ["BatchItem", "BatchResult", "BatchSummary", "ItemRunner", "RateLimiter", "batch", "read_items", "run_batch",
           "run_item", "scan_output"]


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


async def run_item(client: Client, site: Site, item: BatchItem) -> BatchResult:
    """One conversation through the pipeline; any failure becomes the result's ``error``."""
    trace = Trace(context={"batch_id": item.id})
    started_at, start = now_iso(), time.perf_counter()
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
@click.argument("input_path", metavar="INPUT.jsonl", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.argument("output_path", metavar="OUTPUT.jsonl", type=WritableFile())
@click.option("--concurrency", default=4, show_default=True, type=Count(1, "at least one conversation at a time"),
              help="Conversations under way at once.")
@click.option("--rate", default=None, type=Seconds(unit="messages per second"),
              help="At most this many message starts per second (starts at least 1/RATE s apart).")
@site_options
def batch(input_path: str, output_path: Path, concurrency: int, rate: float | None, **options: Any) -> None:
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
