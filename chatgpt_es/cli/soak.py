"""``chatgpt-es soak``: many messages against a local site that injects faults, with the figures.

Every message must end, within its deadline, with the exact expected answer
or a typed error; retries are expected to carry nearly all of them through.
"""

from __future__ import annotations

import asyncio
import time

import attrs
import click

from chatgpt_es.emulator import FAULT_KINDS, EmulatorConfig, running_emulator
from chatgpt_es.runtime.client import Client, RetryPolicy, Settings, Site
from chatgpt_es.runtime.trace import Trace
from pipeline import ask
from stages.errors import ChatGptEsError

from .common import run_async
from .types import Count, Probability, Seconds


@attrs.frozen
class SoakReport:
    messages: int
    succeeded: int
    wrong_answers: int
    typed_failures: dict[str, int]
    untyped_failures: dict[str, int]
    faults_injected: int
    retried: int
    #: page fetches: the first one, then one per nonce renewal (or failed fetch tried again)
    page_fetches: int
    max_latency_s: float
    elapsed_s: float

    @property
    def success_rate(self) -> float:
        return self.succeeded / self.messages if self.messages else 0.0

    def lines(self) -> list[str]:
        failures = ", ".join(f"{k} {v}" for k, v in sorted(self.typed_failures.items())) or "none"
        return [
            f"messages          {self.messages}",
            f"faults injected   {self.faults_injected}",
            f"retried           {self.retried}",
            f"page fetches      {self.page_fetches} (1 + nonce renewals)",
            f"succeeded         {self.succeeded} ({self.success_rate:.1%}), every answer exact: "
            f"{'yes' if self.wrong_answers == 0 else f'NO, {self.wrong_answers} wrong'}",
            f"typed failures    {sum(self.typed_failures.values())} ({failures})",
            f"untyped failures  {sum(self.untyped_failures.values())}",
            f"max latency       {self.max_latency_s:.2f} s",
            f"elapsed           {self.elapsed_s:.1f} s",
        ]


async def soak(config: EmulatorConfig, *, messages: int, concurrency: int, settings: Settings) -> SoakReport:
    """Send ``messages`` messages through the pipeline at ``concurrency`` against a site built from ``config``."""
    succeeded = wrong = retried = fetches = 0
    typed: dict[str, int] = {}
    untyped: dict[str, int] = {}
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for number in range(messages):
        queue.put_nowait(number)
    start = time.perf_counter()
    async with running_emulator(config) as site_emulator, Client(settings) as client:
        site = Site(url=site_emulator.base_url + "/", system_prompt="")

        async def worker() -> None:
            nonlocal succeeded, wrong, retried, fetches
            while not queue.empty():
                number = queue.get_nowait()
                text = f"soak message {number}"
                trace = Trace(context={"message": number})
                began = time.perf_counter()
                try:
                    answer = "".join([c async for c in ask(client, site, [{"role": "user", "content": text}],
                                                          trace=trace)])
                except ChatGptEsError as error:
                    typed[type(error).__name__] = typed.get(type(error).__name__, 0) + 1
                except Exception as error:  # counted, never hidden: the soak exists to find these
                    untyped[type(error).__name__] = untyped.get(type(error).__name__, 0) + 1
                else:
                    succeeded += 1
                    wrong += answer != f"Echo: {text}"
                latencies.append(time.perf_counter() - began)
                retried += sum(1 for r in trace.records if r.stage == "retry")
                fetches += sum(1 for r in trace.records if r.stage == "fetch" and not r.note)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        counts = site_emulator.counters.snapshot()
    faults = sum(v for k, v in counts["by_outcome"].items() if k.startswith("fault_"))
    return SoakReport(messages, succeeded, wrong, typed, untyped, faults, retried, fetches,
                      max(latencies, default=0.0), time.perf_counter() - start)


@click.command("soak")
@click.option("--messages", default=300, show_default=True, type=Count(1, "a soak needs messages"))
@click.option("--concurrency", default=16, show_default=True, type=Count(1, "at least one message at a time"))
@click.option("--fault-rate", default=0.1, show_default=True, type=Probability())
@click.option("--fault-seed", default=1, show_default=True)
@click.option("--aipkit", is_flag=True, help="Soak the AIPKit protocol instead of the legacy one.")
@click.option("--stream", is_flag=True, help="Legacy: streamed answers.")
@click.option("--timeout", default=30.0, show_default=True, type=Seconds(), help="Deadline per message, seconds.")
def soak_command(messages: int, concurrency: int, fault_rate: float, fault_seed: int, aipkit: bool, stream: bool,
                 timeout: float) -> None:
    """Soak the pipeline against a local site that injects faults; print the figures."""
    config = EmulatorConfig(generation="aipkit" if aipkit else "legacy", stream=stream, fault_rate=fault_rate,
                            fault_seed=fault_seed, faults=FAULT_KINDS, retry_after=1)
    settings = Settings(total_timeout=timeout, retry=RetryPolicy(attempts=4, wait_initial=0.05, wait_max=1.0))

    async def run() -> int:
        report = await soak(config, messages=messages, concurrency=concurrency, settings=settings)
        for line in report.lines():
            click.echo(line)
        return 0 if report.wrong_answers == 0 and not report.untyped_failures else 1

    run_async(run())
