"""Scenario 7: memory of a long batch — 10,000 messages at concurrency 32 against the zero-latency site.

Two runners: 32 workers over a generator, each calling ``pipeline.ask`` (the pipeline alone), and the
project's :func:`chatgpt_es.cli.batch.run_batch` (JSONL in, JSONL out, a fixed pool of workers behind a small
queue) when it exists.  Each batch runs in a fresh interpreter (:func:`in_child`), so its RSS is its own.
tracemalloc runs from just after a 200-message warm-up.  At each checkpoint (default: every 1,000
messages) it reads the peak since the previous checkpoint, then runs a full collection and reads what is
still held (live memory: a leak shows there), then resets the peak — so every window starts from a
collected heap, and the windows of the first half of the run can be set against those of the second half:
flat means nothing grows with the number of messages.  RSS is read at the same points (``traced=False``
runs without tracemalloc, whose own bookkeeping is resident too).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

import pipeline

MIB = 1024 * 1024
REPO = Path(__file__).resolve().parents[1]


@attrs.frozen
class MemoryPoint:
    messages: int
    peak: float  # MiB above the baseline, tracemalloc, since the start
    window_peak: float  # MiB above the baseline, tracemalloc, since the previous checkpoint
    held: float  # MiB above the baseline still allocated at that point, after a full collection
    rss: float  # MiB, RSS of the process at that point
    max_rss: float  # MiB, peak RSS of the process so far


@attrs.frozen
class BatchMemory:
    points: tuple[MemoryPoint, ...]
    messages: int
    failed: int
    seconds: float
    runner: str
    traced: bool


class _Probe:
    """Counts finished messages and samples memory at the checkpoints."""

    def __init__(self, checkpoints: tuple[int, ...], baseline: int) -> None:
        self.checkpoints = set(checkpoints)
        self.baseline = baseline
        self.done = 0
        self.failed = 0
        self.points: list[MemoryPoint] = []
        self.peak = 0

    def finished(self, ok: bool) -> None:
        self.done += 1
        self.failed += not ok
        if self.done in self.checkpoints:
            window_peak = tracemalloc.get_traced_memory()[1]
            gc.collect()  # what is still held is then live, not garbage waiting for the cycle collector
            current = tracemalloc.get_traced_memory()[0]
            if tracemalloc.is_tracing():
                tracemalloc.reset_peak()  # every window starts from a collected heap: windows compare
            self.peak = max(self.peak, window_peak)
            max_rss = peak_rss()
            self.points.append(MemoryPoint(self.done, (self.peak - self.baseline) / MIB,
                                           (window_peak - self.baseline) / MIB, (current - self.baseline) / MIB,
                                           current_rss(), max_rss))


def peak_rss() -> float:
    """MiB, this process's peak RSS: ``VmHWM`` (``ru_maxrss`` is not used: Linux carries it over an exec, so a
    child started by a large parent would report the parent's)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss() -> float:
    """MiB resident now (Linux ``/proc/self/statm``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * resource.getpagesize() / MIB


async def _with_run_batch(client: pipeline.Client, site: pipeline.Site, messages: int, concurrency: int,
                          finished: Callable[[bool], None], workdir: Path) -> None:
    from chatgpt_es.cli.batch import BatchResult, run_batch

    items, output = workdir / "in.jsonl", workdir / "out.jsonl"
    with items.open("w", encoding="utf-8") as lines:
        for i in range(messages):
            lines.write(json.dumps({"id": i, "message": f"batch {i}"}) + "\n")

    def on_result(result: BatchResult) -> None:
        finished(result.ok and result.answer == f"Echo: batch {result.id}")

    await run_batch(client, site, items, output, concurrency=concurrency, on_result=on_result)


async def _with_workers(client: pipeline.Client, site: pipeline.Site, messages: int, concurrency: int,
                        finished: Callable[[bool], None]) -> None:
    pending = iter(range(messages))

    async def worker() -> None:
        for i in pending:
            try:
                chunks = [c async for c in pipeline.ask(client, site, [{"role": "user", "content": f"batch {i}"}])]
                finished("".join(chunks) == f"Echo: batch {i}")
            except Exception:
                finished(False)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


RUN_BATCH = "chatgpt_es.cli.batch.run_batch"
WORKERS = "pipeline.ask workers"
RUNNERS = (WORKERS, RUN_BATCH)


def run_batch_available() -> bool:
    try:
        from chatgpt_es.cli.batch import run_batch
    except ImportError:
        return False
    return callable(run_batch)


async def batch_memory(base: str, *, runner: str = WORKERS, messages: int = 10_000, concurrency: int = 32,
                       checkpoints: tuple[int, ...] = tuple(range(1_000, 10_001, 1_000)),
                       traced: bool = True) -> BatchMemory:
    """Run the batch in this process against the site at ``base``; memory at each checkpoint.

    ``runner``: :data:`WORKERS` (``concurrency`` tasks taking message numbers from one shared iterator, each
    through ``pipeline.ask``: the pipeline alone) or :data:`RUN_BATCH` (the project's batch command, JSONL in
    and out).  ``traced=False``: no tracemalloc (its own bookkeeping is resident too), so only the RSS
    figures mean anything, and the batch runs about four times faster.
    """
    if runner not in RUNNERS:
        raise ValueError(f"runner must be one of {RUNNERS}, not {runner!r}")
    target = pipeline.Site(url=base + "/", system_prompt="")
    async with pipeline.Client() as client:
        with tempfile.TemporaryDirectory(prefix="chatgpt-es-bench-") as tmp:
            workdir = Path(tmp)
            warm = _Probe((), 0)
            await _drive(runner, client, target, 200, concurrency, warm.finished, workdir / "warm")
            gc.collect()
            if traced:
                tracemalloc.start()
            try:
                probe = _Probe(tuple(c for c in checkpoints if c <= messages), tracemalloc.get_traced_memory()[0])
                start = time.perf_counter()
                await _drive(runner, client, target, messages, concurrency, probe.finished, workdir / "run")
                seconds = time.perf_counter() - start
            finally:
                if traced:
                    tracemalloc.stop()
    return BatchMemory(tuple(probe.points), probe.done, probe.failed + warm.failed, seconds, runner, traced)


async def _drive(runner: str, client: pipeline.Client, site: pipeline.Site, messages: int,
                 concurrency: int, finished: Callable[[bool], None], workdir: Path) -> Any:
    if runner == RUN_BATCH:
        workdir.mkdir()
        return await _with_run_batch(client, site, messages, concurrency, finished, workdir)
    return await _with_workers(client, site, messages, concurrency, finished)


def in_child(base: str, *, runner: str, messages: int, concurrency: int, checkpoints: tuple[int, ...],
             traced: bool = True) -> BatchMemory:
    """:func:`batch_memory` in a fresh interpreter, so its RSS is the batch's own."""
    args = [sys.executable, "-m", "bench.memory", base, "--runner", runner, "--messages", str(messages),
            "--concurrency", str(concurrency), "--checkpoints", ",".join(map(str, checkpoints))]
    if not traced:
        args.append("--untraced")
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"the batch process failed ({done.returncode}): {done.stderr[-2000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    data["points"] = tuple(MemoryPoint(**point) for point in data["points"])
    return BatchMemory(**data)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Memory of a long batch (run by bench/run.py).")
    parser.add_argument("base", help="the local site's base URL")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runner", choices=RUNNERS, default=WORKERS)
    parser.add_argument("--checkpoints", default=",".join(str(c) for c in range(1_000, 10_001, 1_000)))
    parser.add_argument("--untraced", action="store_true", help="no tracemalloc: RSS figures only")
    options = parser.parse_args(argv)
    checkpoints = tuple(int(c) for c in options.checkpoints.split(","))
    result = asyncio.run(batch_memory(options.base, runner=options.runner, messages=options.messages,
                                      concurrency=options.concurrency, checkpoints=checkpoints,
                                      traced=not options.untraced))
    print(json.dumps(attrs.asdict(result)))


if __name__ == "__main__":
    main()
