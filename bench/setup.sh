#!/usr/bin/env bash
# Creates the benchmark's own virtual environment, .venv-bench at the repository root (BENCH_VENV to put it
# elsewhere), with this project installed editable and the seed implementation, g4f==0.5.2.0, beside it.
# The project's own .venv is not touched.  Then: .venv-bench/bin/python bench/run.py
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${BENCH_VENV:-$root/.venv-bench}"
python="${PYTHON:-python3}"

"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet)

# g4f 0.5.2.0 declares requests, aiohttp, brotli, pycryptodome and nest_asyncio; ChatGptEs also needs curl_cffi.
if ! "${pip[@]}" -e "$root" "g4f==0.5.2.0" curl_cffi; then
    echo "setup.sh: installing g4f with its dependencies failed; retrying with --no-deps plus what ChatGptEs imports" >&2
    "${pip[@]}" -e "$root" curl_cffi
    "${pip[@]}" --no-deps "g4f==0.5.2.0"
    "${pip[@]}" requests aiohttp brotli pycryptodome nest_asyncio
fi

"$venv/bin/python" - <<'PY'
from importlib.metadata import version

from g4f.Provider import ChatGptEs  # the seed

import pipeline  # this project

assert version("g4f") == "0.5.2.0", version("g4f")
print(f"ok: g4f {version('g4f')} ({ChatGptEs.__module__}), chatgpt-es {version('chatgpt-es')}, "
      f"curl_cffi {version('curl_cffi')}; pipeline at {pipeline.__file__}")
PY
echo "run the benchmark: ${venv#"$root"/}/bin/python bench/run.py   (from $root)"
