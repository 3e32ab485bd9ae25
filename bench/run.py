"""The benchmark's single entry point: ``.venv-bench/bin/python bench/run.py`` (see bench/README.md).

Runs every scenario against local sites (``chatgpt-es emulate`` subprocesses on 127.0.0.1) for this project
and for ``g4f==0.5.2.0``'s ``ChatGptEs``, prints the table and writes it to ``bench/RESULTS.md``.  Exit
status 1 when a target is missed.  ``--quick`` is a smoke run that writes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `bench` importable when run as a script

from bench.suite import main

if __name__ == "__main__":
    sys.exit(main())
