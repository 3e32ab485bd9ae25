"""Start-up cost of the console script: ``chatgpt-es --help`` and the imports of ``ask``, against a bare
``python -c pass`` (best of N runs each).  Target: ``--help`` within 0.25 s of the bare interpreter.

    python bench/startup.py [--python PY] [--script PATH-TO-chatgpt-es] [--runs 5] [--check]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 0.25
ASK_IMPORTS = "import click; from chatgpt_es.cli import main; main.get_command(click.Context(main), 'ask')"


def best_of(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--script", default=str(Path(sys.executable).with_name("chatgpt-es")))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args()
    bare = best_of([args.python, "-c", "pass"], args.runs)
    help_ = best_of([args.script, "--help"], args.runs)
    ask = best_of([args.python, "-c", ASK_IMPORTS], args.runs)
    met = help_ - bare <= TARGET_SECONDS
    print(f"python -c pass            {bare * 1000:6.0f} ms")
    print(f"chatgpt-es --help         {help_ * 1000:6.0f} ms  (+{(help_ - bare) * 1000:.0f} ms; target "
          f"≤ +{TARGET_SECONDS * 1000:.0f} ms {'✓' if met else '✗ MISSED'})")
    print(f"imports of `ask`          {ask * 1000:6.0f} ms  (+{(ask - bare) * 1000:.0f} ms)")
    return 0 if met or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
