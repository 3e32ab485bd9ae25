"""``chatgpt-es batch`` and its engine, against the local emulator over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import io
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import StartEmulator

from chatgpt_es.cli import batch as batch_module
from chatgpt_es.cli import main
from chatgpt_es.cli.batch import BatchItem, BatchResult, BatchSummary, ItemRunner, RateLimiter, run_batch, run_item
from chatgpt_es.emulator import Emulator
from chatgpt_es.runtime.client import Client, RetryPolicy, Settings, Site

CHATGPT_ES = Path(sys.executable).with_name("chatgpt-es")


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    """Rows are dicts (one JSON line each) or raw lines (str, or bytes for undecodable input)."""
    with open(path, "wb") as out:
        for row in rows:
            raw = row if isinstance(row, bytes) else (row if isinstance(row, str) else json.dumps(row)).encode()
            out.write(raw + b"\n")
    return path


def read_results(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def last_by_id(results: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {r["id"]: r for r in results if r["id"] is not None}


def site_of(emu: Emulator) -> Site:
    return Site(url=emu.base_url + "/", system_prompt="")


def posts(emu: Emulator) -> int:
    return emu.counters.snapshot()["post"]


def go(emu: Emulator, items: Path | Iterable[Any], output: Path, *, attempts: int = 1, **options: Any) -> BatchSummary:
    async def run() -> BatchSummary:
        async with Client(Settings(retry=RetryPolicy(attempts=attempts, wait_initial=0.01))) as client:
            return await run_batch(client, site_of(emu), items, output, **options)

    return asyncio.run(run())


def messages(n: int, prefix: str = "hello") -> list[dict[str, Any]]:
    return [{"id": f"{prefix}-{i}", "message": f"{prefix} number {i}"} for i in range(n)]


@pytest.mark.parametrize("generation", ["legacy", "aipkit"])
def test_every_answer_exact(start_emulator: StartEmulator, tmp_path: Path, generation: str) -> None:
    emu = start_emulator(generation=generation)
    rows = [*messages(10), {"id": 7, "messages": [{"role": "user", "content": "ünïcödé ✓ \"quoted\""}]}]
    seen: list[BatchResult] = []
    summary = go(emu, write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl", concurrency=4,
                 on_result=seen.append)
    results = read_results(tmp_path / "out.jsonl")
    assert len(results) == len(seen) == 11
    assert summary.total == summary.succeeded == 11 and summary.failed == summary.skipped == 0
    by_id = last_by_id(results)
    for i in range(10):
        assert by_id[f"hello-{i}"]["answer"] == f"Echo: hello number {i}"
        assert by_id[f"hello-{i}"]["line"] == i + 1
    assert by_id[7]["answer"] == 'Echo: ünïcödé ✓ "quoted"'
    for result in results:
        assert result["error"] is None and result["attempts"] == 1 and result["ms"] > 0
        assert datetime.datetime.fromisoformat(result["started_at"]).tzinfo is not None
    assert "ünïcödé ✓" in (tmp_path / "out.jsonl").read_text(encoding="utf-8")  # UTF-8, not \\u escapes


def test_items_from_python(start_emulator: StartEmulator, tmp_path: Path) -> None:
    """``run_batch`` also takes an iterable of dicts (consumed lazily); bad ones are reported by position."""
    emu = start_emulator()
    rows = ({"id": i, "message": f"item {i}"} if i != 3 else {"id": 3} for i in range(6))
    summary = go(emu, rows, tmp_path / "out.jsonl", concurrency=2)
    assert (summary.succeeded, summary.failed) == (5, 1)
    by_id = last_by_id(read_results(tmp_path / "out.jsonl"))
    assert {k: r["answer"] for k, r in by_id.items() if k != 3} == {i: f"Echo: item {i}" for i in (0, 1, 2, 4, 5)}
    assert by_id[3]["error"]["message"] == 'line 4: neither "message" nor "messages"'


def counting(runner: ItemRunner, log: list[tuple[str, float]], state: dict[str, int]) -> ItemRunner:
    """Wraps the engine's per-item function: records start times and the most items in flight at once."""

    async def wrapped(client: Client, site: Site, item: BatchItem) -> BatchResult:
        log.append((str(item.id), asyncio.get_running_loop().time()))
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
        try:
            return await runner(client, site, item)
        finally:
            state["now"] -= 1

    return wrapped


def test_concurrency_bound_respected(start_emulator: StartEmulator, tmp_path: Path) -> None:
    emu = start_emulator(latency=0.2)
    state = {"now": 0, "max": 0}
    starts: list[tuple[str, float]] = []
    summary = go(emu, write_jsonl(tmp_path / "in.jsonl", messages(8)), tmp_path / "out.jsonl", concurrency=4,
                 runner=counting(run_item, starts, state))
    assert state["max"] == 4 and len(starts) == 8
    # one page fetch (shared) + two rounds of four POSTs of 0.2 s; one at a time would take 1.8 s
    assert 0.4 <= summary.elapsed < 1.4
    assert summary.succeeded == 8 and posts(emu) == 8
    answers = {r["id"]: r["answer"] for r in read_results(tmp_path / "out.jsonl")}
    assert answers == {f"hello-{i}": f"Echo: hello number {i}" for i in range(8)}


def test_input_is_streamed_lazily(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """10,000 lines: the reader is never more than a small queue ahead of the workers."""
    read = {"n": 0}
    original = batch_module.read_items

    def counted(path: str | Path) -> Iterator[BatchItem | BatchResult]:
        for item in original(path):
            read["n"] += 1
            yield item

    lead: list[int] = []

    async def instant(client: Client, site: Site, item: BatchItem) -> BatchResult:
        lead.append(read["n"] - len(lead))
        await asyncio.sleep(0)
        return BatchResult(item.id, item.line, "ok", None, "now", 0.0, 1)

    monkeypatch.setattr(batch_module, "read_items", counted)
    write_jsonl(tmp_path / "in.jsonl", messages(10_000))

    async def run() -> BatchSummary:
        return await run_batch(Client(), Site(url="http://unused.invalid/"), tmp_path / "in.jsonl",
                               tmp_path / "out.jsonl", concurrency=8, runner=instant)

    summary = asyncio.run(run())
    assert summary.succeeded == 10_000 and len(read_results(tmp_path / "out.jsonl")) == 10_000
    assert max(lead) <= 2 * 8 + 1


def test_rate_limit_spaces_starts(start_emulator: StartEmulator, tmp_path: Path) -> None:
    emu = start_emulator()
    state = {"now": 0, "max": 0}
    starts: list[tuple[str, float]] = []
    summary = go(emu, write_jsonl(tmp_path / "in.jsonl", messages(5)), tmp_path / "out.jsonl", concurrency=5,
                 rate=20, runner=counting(run_item, starts, state))
    times = sorted(t for _, t in starts)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.05 - 0.01  # evenly spaced at 1/20 s
    assert times[-1] - times[0] >= 0.2 - 0.01 and summary.elapsed >= 0.2 - 0.01
    assert summary.succeeded == 5


def test_rate_limiter_alone() -> None:
    async def run() -> list[float]:
        limiter, loop, stamps = RateLimiter(50), asyncio.get_running_loop(), []
        for _ in range(6):
            await limiter.wait()
            stamps.append(loop.time())
        return stamps

    stamps = asyncio.run(run())
    assert all(b - a >= 0.02 - 0.005 for a, b in itertools.pairwise(stamps))
    assert stamps[-1] - stamps[0] < 0.5
    with pytest.raises(ValueError):
        RateLimiter(0)


def test_resume_skips_finished_ids(start_emulator: StartEmulator, tmp_path: Path) -> None:
    emu = start_emulator()
    items, output = write_jsonl(tmp_path / "in.jsonl", messages(5)), tmp_path / "out.jsonl"
    assert go(emu, items, output).succeeded == 5
    assert posts(emu) == 5
    again = go(emu, items, output)
    assert (again.total, again.skipped, again.succeeded, again.failed) == (5, 5, 0, 0)
    assert posts(emu) == 5 and len(read_results(output)) == 5
    write_jsonl(items, messages(7))  # two more items: only they are sent
    third = go(emu, items, output)
    assert (third.skipped, third.succeeded) == (5, 2) and posts(emu) == 7
    assert sorted(r["id"] for r in read_results(output)[5:]) == ["hello-5", "hello-6"]


def test_one_failure_does_not_stop_the_others_and_is_retried(start_emulator: StartEmulator, tmp_path: Path) -> None:
    emu = start_emulator()
    rows = messages(6)
    rows[2] = {"id": "limited", "message": "this one [[token-limit]]"}
    items, output = write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl"
    summary = go(emu, items, output, concurrency=3)
    assert (summary.succeeded, summary.failed) == (5, 1)
    by_id = last_by_id(read_results(output))
    assert by_id["limited"]["answer"] is None
    assert by_id["limited"]["error"]["type"] == "TokenLimitError"
    assert "token limit" in by_id["limited"]["error"]["message"]
    assert all(by_id[f"hello-{i}"]["answer"] == f"Echo: hello number {i}" for i in (0, 1, 3, 4, 5))
    before = posts(emu)
    rows[2] = {"id": "limited", "message": "fine now"}
    again = go(emu, write_jsonl(items, rows), output)
    assert (again.skipped, again.succeeded, again.failed) == (5, 1, 0)
    assert posts(emu) == before + 1
    results = read_results(output)
    assert len(results) == 7 and results[-1]["id"] == "limited"
    assert last_by_id(results)["limited"] == results[-1] and results[-1]["answer"] == "Echo: fine now"


def test_failed_site_then_retry_elsewhere(start_emulator: StartEmulator, tmp_path: Path) -> None:
    """Everything fails behind Cloudflare; a rerun with the same OUTPUT sends all of them again."""
    blocked, good = start_emulator(cloudflare=True), start_emulator()
    items, output = write_jsonl(tmp_path / "in.jsonl", messages(4)), tmp_path / "out.jsonl"
    first = go(blocked, items, output, concurrency=2)
    assert (first.failed, first.succeeded) == (4, 0)
    assert {r["error"]["type"] for r in read_results(output)} == {"CloudflareChallengeError"}
    second = go(good, items, output, concurrency=2)
    assert (second.succeeded, second.skipped) == (4, 0) and posts(good) == 4
    assert all(r["error"] is None for r in last_by_id(read_results(output)).values())


def test_transient_faults_are_retried_and_counted(start_emulator: StartEmulator, tmp_path: Path) -> None:
    emu = start_emulator(fault_rate=0.5, fault_seed=3, faults=("500",))
    output = tmp_path / "out.jsonl"
    summary = go(emu, write_jsonl(tmp_path / "in.jsonl", messages(6)), output, attempts=8, concurrency=2)
    results = read_results(output)
    assert summary.succeeded == 6
    assert all(r["answer"] == f"Echo: hello number {r['line'] - 1}" for r in results)
    assert sum(r["attempts"] for r in results) == posts(emu) > 6


def test_bad_lines_reported_with_line_numbers(start_emulator: StartEmulator, tmp_path: Path) -> None:
    emu = start_emulator()
    rows: list[Any] = [
        {"id": "a", "message": "first"},             # 1
        "",                                          # 2 blank: skipped
        "{not json",                                 # 3
        {"message": "no id"},                        # 4
        {"id": "a", "message": "again"},             # 5 duplicate
        {"id": "b"},                                 # 6 neither
        {"id": "c", "message": "x", "messages": []},  # 7 both
        {"id": "d", "message": 42},                  # 8
        {"id": "e", "messages": []},                 # 9 empty
        b'{"id": "f", "message": "\xff"}',           # 10 not UTF-8
        "[1, 2]",                                    # 11
        "   ",                                       # 12 blank
        {"id": "g", "message": "last"},              # 13
        '{"id": ' + "9" * 5000 + ', "message": "x"}',  # 14 an integer past the digit limit
        "[" * 100_000,                               # 15 nested too deeply
    ]
    output = tmp_path / "out.jsonl"
    summary = go(emu, write_jsonl(tmp_path / "in.jsonl", rows), output)
    assert (summary.total, summary.succeeded, summary.failed) == (13, 2, 11)
    results = read_results(output)
    bad = {r["line"]: r for r in results if r["error"] is not None}
    assert sorted(bad) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 15]
    for line, result in bad.items():
        assert result["error"]["type"] == "InvalidInputLine"
        assert result["error"]["message"].startswith(f"line {line}: ")
        assert result["answer"] is None
    assert "not JSON" in bad[3]["error"]["message"]
    assert "no id" in bad[4]["error"]["message"] and bad[4]["id"] is None
    assert "duplicate id 'a' (first on line 1)" in bad[5]["error"]["message"] and bad[5]["id"] is None
    assert 'neither "message" nor "messages"' in bad[6]["error"]["message"] and bad[6]["id"] == "b"
    assert 'both "message" and "messages"' in bad[7]["error"]["message"]
    assert "not a string" in bad[8]["error"]["message"]
    assert "empty" in bad[9]["error"]["message"]
    assert "not UTF-8" in bad[10]["error"]["message"]
    assert "not a JSON object" in bad[11]["error"]["message"]
    assert "not JSON this reader can take (ValueError" in bad[14]["error"]["message"]
    assert "not JSON this reader can take (RecursionError" in bad[15]["error"]["message"]
    good = last_by_id([r for r in results if r["error"] is None])
    assert good["a"]["answer"] == "Echo: first" and good["g"]["answer"] == "Echo: last"
    assert posts(emu) == 2


def test_torn_last_line_is_tolerated(start_emulator: StartEmulator, tmp_path: Path) -> None:
    emu = start_emulator()
    output = tmp_path / "out.jsonl"
    output.write_text('{"id": "hello-0", "answer": "Echo: hello number 0", "error": null}\n{"id": "hello-1", "ans',
                      encoding="utf-8")
    summary = go(emu, write_jsonl(tmp_path / "in.jsonl", messages(2)), output)
    assert (summary.skipped, summary.succeeded) == (1, 1)
    lines = output.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[-1])["answer"] == "Echo: hello number 1"


def cli_args(emu: Emulator, items: Path, output: Path, *extra: str) -> list[str]:
    return ["batch", str(items), str(output), "--url", emu.base_url + "/", "--system", "", "--retries", "1", *extra]


def test_cli_end_to_end(start_emulator: StartEmulator, tmp_path: Path) -> None:
    emu = start_emulator()
    items, output = write_jsonl(tmp_path / "in.jsonl", messages(5)), tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, cli_args(emu, items, output, "--concurrency", "2", "--rate", "50"))
    assert result.exit_code == 0, result.output
    assert "5 total, 5 succeeded, 0 failed, 0 skipped" in result.stderr and "messages/s" in result.stderr
    assert sorted(r["answer"] for r in read_results(output)) == [f"Echo: hello number {i}" for i in range(5)]
    again = CliRunner().invoke(main, cli_args(emu, items, output))
    assert again.exit_code == 0 and "5 skipped" in again.stderr and posts(emu) == 5
    write_jsonl(items, [*messages(2), {"id": "x", "message": "[[token-limit]]"}])
    failing = CliRunner().invoke(main, cli_args(emu, items, output))
    assert failing.exit_code == 1
    assert "1 failed" in failing.stderr and "TokenLimitError" in failing.stderr
    same = CliRunner().invoke(main, cli_args(emu, items, items))
    assert same.exit_code == 2


@pytest.mark.skipif(not CHATGPT_ES.exists(), reason="the chatgpt-es console script is not installed next to python")
def test_console_script_piped_is_plain(start_emulator: StartEmulator, tmp_path: Path) -> None:
    emu = start_emulator()
    items = write_jsonl(tmp_path / "in.jsonl", [*messages(3), "oops"])
    output = tmp_path / "out.jsonl"
    done = subprocess.run([str(CHATGPT_ES), *cli_args(emu, items, output)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "NO_COLOR": "1"}, check=False)
    assert done.returncode == 1, done.stderr
    assert "\x1b[" not in done.stderr and "━" not in done.stderr
    assert "failed None (line 4): InvalidInputLine" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("batch: 4 total, 3 succeeded, 1 failed, 0 skipped")
    assert done.stdout == ""


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal(start_emulator: StartEmulator, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    emu = start_emulator()
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.delenv("NO_COLOR", raising=False)
    items = write_jsonl(tmp_path / "in.jsonl", [*messages(3), {"id": "x", "message": "[[token-limit]]"}])
    with contextlib.ExitStack() as stack:
        on_result, on_skip = batch_module._progress(stack, str(items))
        summary = go(emu, items, tmp_path / "out.jsonl", on_result=on_result, on_skip=on_skip)
    assert (summary.succeeded, summary.failed) == (3, 1)
    shown = terminal.getvalue()
    assert "4/4" in shown and "1 failed" in shown and "0 skipped" in shown and "msg/s" in shown
