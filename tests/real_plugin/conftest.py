"""The session's real-plugin stand: up once in a temporary folder, down at the end; the comparison table."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from real_plugin.shapes import COMPARISONS, table
from real_plugin.stand import STAND_SCRIPTS, Stand, StandError, busy_ports, unavailable_reason

#: why the stand did not come up here (printed once in the summary)
NOT_RUN: list[str] = []
HOW_TO = "see README 'Tested against the real plugin'"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def stand() -> Iterator[Stand]:
    """A fresh stand in a temporary folder, taken down at the end; or, with ``REAL_PLUGIN_STAND_DIR`` set,
    the stand of that folder (brought up if needed, left running: quicker when iterating on these tests)."""
    reason = unavailable_reason()
    if reason is not None:
        if in_ci():
            pytest.exit(f"the real-plugin stand must run in CI but cannot: {reason}", returncode=1)
        NOT_RUN.append(reason)
        pytest.skip(f"real-plugin stand unavailable: {reason} ({HOW_TO})")
    kept = os.environ.get("REAL_PLUGIN_STAND_DIR")
    busy = busy_ports()
    if busy and not kept:
        pytest.exit(f"the real-plugin stand's ports {busy} are taken (another stand running?)", returncode=1)
    folder = Path(kept) if kept else Path(tempfile.mkdtemp(prefix="chatgpt-es-stand-"))
    running = Stand(STAND_SCRIPTS, folder)

    def take_down() -> None:
        if not kept:
            running.down()
            shutil.rmtree(folder, ignore_errors=True)

    try:
        running.up()
    except StandError as error:
        take_down()
        pytest.exit(f"the real-plugin stand did not come up: {error}", returncode=1)
    try:
        yield running
    finally:
        take_down()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if NOT_RUN:
        terminalreporter.write_line(f"real-plugin suite NOT RUN: {NOT_RUN[0]} ({HOW_TO})", yellow=True, bold=True)
    if COMPARISONS:
        terminalreporter.section("local site (chatgpt_es.emulator) vs the real plugin: local/real")
        for line in table(COMPARISONS):
            terminalreporter.write_line(line)
