"""The results table (markdown) and the machine it ran on."""

from __future__ import annotations

import datetime
import os
import platform
import resource
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

import attrs

REPO = Path(__file__).resolve().parents[1]


@attrs.frozen
class Row:
    scenario: str
    figure: str
    ours: str
    seed: str = "—"
    ratio: str = "—"
    target: str = "—"
    #: True = target met, False = missed, None = informational
    ok: bool | None = None

    @property
    def verdict(self) -> str:
        return "—" if self.ok is None else ("pass" if self.ok else "**FAIL**")


HEADER = ("#", "figure", "ours", "g4f 0.5.2.0", "ratio", "target", "result")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(rows: Iterable[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    for row in rows:
        cells = (row.scenario, row.figure, row.ours, row.seed, row.ratio, row.target, row.verdict)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def times(ratio: float) -> str:
    return f"{ratio:.1f}×"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_revision() -> str:
    try:
        described = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], check=True,
                                   capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return described or "unknown"


def _cpu_seconds() -> tuple[float, float, float]:
    """(seconds all CPUs were busy, seconds stolen by the hypervisor, seconds this process and its waited-for
    children used) so far; zeros where /proc/stat is missing."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(value) for value in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return 0.0, 0.0, 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    own = sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
              for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return (user + nice + system + irq + softirq) / tick, steal / tick, own


@attrs.frozen
class Machine:
    cpu: str
    cores: int
    python: str
    date: str
    revision: str
    seed: str
    curl_cffi: str
    load_before: str
    started: float
    counters_before: tuple[float, float, float]
    #: the versions of the project's runtime dependencies in this environment (what a fresh install got)
    dependencies: str = ""
    load_after: str = ""
    #: CPU seconds other processes used during the run, the wall seconds, and the seconds stolen
    others: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @classmethod
    def now(cls, seed: str) -> Machine:
        from importlib.metadata import version

        return cls(cpu=cpu_model(), cores=os.cpu_count() or 0, python=platform.python_version(),
                   date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                   revision=git_revision(), seed=seed, curl_cffi=version("curl_cffi"), load_before=_load(),
                   started=time.monotonic(), counters_before=_cpu_seconds(), dependencies=_dependencies())

    def finished(self) -> Machine:
        busy0, steal0, own0 = self.counters_before
        busy1, steal1, own1 = _cpu_seconds()
        others = max(0.0, (busy1 - busy0) - (own1 - own0))
        return attrs.evolve(self, load_after=_load(),
                            others=(others, time.monotonic() - self.started, steal1 - steal0))

    @property
    def busy(self) -> bool:
        """Did other processes take more than a quarter of a core on average during the run?"""
        others, wall, _ = self.others
        return wall > 0 and others / wall > 0.25

    def lines(self) -> list[str]:
        others, wall, steal = self.others
        share = others / wall if wall else 0.0
        return [
            f"- machine: {self.cpu}, {self.cores} cores; Python {self.python}; curl_cffi {self.curl_cffi}",
            f"- date: {self.date}; project revision: {self.revision}; seed: g4f {self.seed}",
            f"- dependencies: {self.dependencies}",
            f"- load average (1 min) before / after the run: {self.load_before} / {self.load_after}; other "
            f"processes used {others:.0f} CPU s in the run's {wall:.0f} s ({share:.0%} of a core), "
            f"{steal:.0f} s stolen by the hypervisor",
        ]


#: the project's runtime dependencies (pyproject.toml) and the emulator's server
DEPENDENCIES = ("curl_cffi", "attrs", "structlog", "click", "rich", "aiohttp")


def _dependencies() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def one(name: str) -> str:
        try:
            return f"{name} {version(name)}"
        except PackageNotFoundError:
            return f"{name} (not installed)"

    return ", ".join(one(name) for name in DEPENDENCIES)


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def document(machine: Machine, rows: list[Row], notes: list[str], command: str, seconds: float) -> str:
    parts = [
        "# Benchmark results: this project vs g4f 0.5.2.0's ChatGptEs",
        "",
        f"Produced by `{command}` in {seconds:.0f} s (see bench/README.md for what each figure means).",
        "",
        *machine.lines(),
        "",
        table(rows),
        "",
    ]
    if notes:
        parts += ["## Notes", "", *(f"- {note}" for note in notes), ""]
    return "\n".join(parts)
