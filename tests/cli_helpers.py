"""Running the ``chatgpt-es`` console script in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
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
