"""Logs: quiet by default, one structlog event per stage when asked, JSON lines when piped, no secrets."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from typing import Any

import pytest

from chatgpt_es.cli.common import fail
from chatgpt_es.runtime.logs import add_secrets, configure_logging, level_from
from chatgpt_es.runtime.trace import Trace

CLI = [sys.executable, "-c", "from chatgpt_es.cli import main; main()"]


def run_cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "CHATGPT_ES_LOG"} | (env or {})
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, env=environ, check=False)


@pytest.mark.parametrize(("verbose", "env", "level"), [(0, "", 30), (1, "", 20), (2, "", 10), (0, "debug", 10),
                                                         (0, "info", 20)])
def test_level_from_flags_and_environment(verbose: int, env: str, level: int) -> None:
    assert level_from(verbose, {"CHATGPT_ES_LOG": env}) == level


def test_quiet_by_default(legacy_site: Any) -> None:
    result = run_cli(["ask", "--url", legacy_site.base_url + "/", "--system", "", "hi"])
    assert result.returncode == 0 and result.stdout == "Echo: hi\n"
    assert result.stderr == ""


@pytest.mark.parametrize("how", [["-vv"], ["CHATGPT_ES_LOG=debug"]])
def test_debug_logs_are_json_lines_with_one_event_per_stage(legacy_site: Any, how: list[str]) -> None:
    flags = [h for h in how if h.startswith("-")]
    env = dict(h.split("=", 1) for h in how if "=" in h)
    result = run_cli([*flags, "ask", "--url", legacy_site.base_url + "/", "--system", "", "hi"], env)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines()]
    stages = [e["stage"] for e in events if e["event"] == "stage"]
    assert stages == ["prompt", "fetch", "extract", "endpoint", "payload", "send", "parse"]
    assert all("ms" in e and "level" in e and "timestamp" in e for e in events if e["event"] == "stage")


def test_a_proxy_password_never_reaches_the_logs_or_the_error_line() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    secret = "pr0xy-S3cret"
    result = run_cli(["-vv", "ask", "--retries", "2", "--connect-timeout", "2",
                      "--proxy", f"http://alice:{secret}@127.0.0.1:{port}",
                      "--url", f"http://bob:{secret}@127.0.0.1:{port}/", "hi"])
    assert result.returncode == 1
    assert "error: TransportError" in result.stderr and '"event": "retry"' in result.stderr
    assert secret not in result.stderr + result.stdout


def test_the_cli_error_line_masks_every_registered_secret(capsys: pytest.CaptureFixture[str]) -> None:
    """A site may echo the owner's REST key (or a proxy password) in an error body: the one line hides it."""
    add_secrets(("aipk_live_" + "9" * 48,))
    with pytest.raises(SystemExit):
        fail(f"SiteRefusedError: the key aipk_live_{'9' * 48} is not valid", debug=False)
    line = capsys.readouterr().err
    assert line.startswith("error: SiteRefusedError: the key ") and "9" * 48 not in line


@pytest.fixture
def restore_logging() -> Any:
    logger = logging.getLogger("chatgpt_es")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


@pytest.mark.parametrize(("level", "kept_lines"), [(30, []), (20, ["bad"]), (10, ["good", "bad"])])
def test_a_trace_nobody_reads_keeps_no_records_but_still_feeds_the_log(restore_logging: Any, level: int,
                                                                         kept_lines: list[str]) -> None:
    """``pipeline.ask`` without a trace makes one with keep=False: no records built for nobody, the same log."""

    def fail() -> None:
        raise ValueError("no")

    stream = io.StringIO()
    configure_logging(level, json_lines=True, stream=stream)
    quiet, kept = Trace(keep=False), Trace()
    for trace in (quiet, kept):
        assert trace.step("good", lambda: 1) == 1
        with pytest.raises(ValueError):
            trace.step("bad", fail)
    assert quiet.records == []
    assert [(r.stage, r.ok) for r in kept.records] == [("good", True), ("bad", False)]  # full detail when kept
    lines = [json.loads(line)["stage"] for line in stream.getvalue().splitlines()]
    assert lines == kept_lines * 2  # the same log lines whether the trace is kept or not
