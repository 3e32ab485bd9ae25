"""Running the ``chatgpt-es`` console script in a subprocess, as a user would."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from chatgpt_es.emulator import Emulator

_SCRIPT = Path(sys.executable).with_name("chatgpt-es")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-c", "from chatgpt_es.cli import main; main()"]


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CHATGPT_ES_LOG"}
    env.update(NO_COLOR="1", PYTHONIOENCODING="utf-8")
    return env


def cli(*args: str, stdin: str | None = None, timeout: float = 60.0,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], input=stdin, capture_output=True, text=True, encoding="utf-8",
                          env=cli_env(), timeout=timeout, check=False, cwd=cwd)


def site_args(emu: Emulator | str) -> list[str]:
    base = emu if isinstance(emu, str) else emu.base_url
    return ["--url", base + "/", "--system", ""]


@contextlib.contextmanager
def cli_process(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``chatgpt-es ARGS`` (``emulate``, ``serve``) as a subprocess; yields it and its first stdout line (its URL);
    stops it after."""
    process = subprocess.Popen([*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               encoding="utf-8", env={**cli_env(), **(env or {})})
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 20.0)
        assert ready, f"{args[0]} printed nothing in 20 s"
        yield process, process.stdout.readline().strip()
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10.0)
