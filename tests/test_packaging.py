"""The installed program: what start-up imports, where record/regress read and write, the package data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cli_helpers import cli, site_args
from conftest import FIXTURES

from chatgpt_es.emulator import Emulator

HEAVY = ("curl_cffi", "aiohttp", "structlog", "rich", "chatgpt_es.emulator", "pipeline")


def modules_after(code: str) -> set[str]:
    """The top-level names of every module loaded by ``code`` in a fresh interpreter."""
    probe = f"import sys\n{code}\nprint('--modules--', *sorted(sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    return set(done.stdout.rpartition("--modules--")[2].split())


def loaded(modules: set[str], name: str) -> bool:
    return any(module == name or module.startswith(name + ".") for module in modules)


def test_help_imports_neither_curl_cffi_aiohttp_structlog_nor_the_local_site() -> None:
    modules = modules_after("from chatgpt_es.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass")
    assert [name for name in HEAVY if loaded(modules, name)] == []
    assert loaded(modules, "click")


def test_ask_loads_the_pipeline_but_not_aiohttp_or_rich() -> None:
    modules = modules_after("import click\nfrom chatgpt_es.cli import main\n"
                            "main.get_command(click.Context(main), 'ask')")
    assert loaded(modules, "pipeline")
    assert [name for name in ("aiohttp", "rich", "chatgpt_es.emulator") if loaded(modules, name)] == []


def test_help_lists_every_command_with_its_summary() -> None:
    done = cli("--help")
    assert done.returncode == 0
    for command in ("ask", "demo", "emulate", "trace", "diagnose", "stage", "record", "regress", "batch", "soak"):
        assert f"  {command} " in done.stdout


def test_a_pipeline_py_in_the_current_folder_does_not_shadow_the_console_scripts(tmp_path: Path) -> None:
    (tmp_path / "pipeline.py").write_text("raise SystemExit('the user pipeline.py was imported')\n")
    (tmp_path / "stages.py").write_text("raise SystemExit('the user stages.py was imported')\n")
    done = cli("stage", "prompt", "-", "--system", "", stdin='[{"role": "user", "content": "hi"}]', cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"message": "hi"' in done.stdout


def test_the_shipped_captures_are_the_repository_captures() -> None:
    shipped = Path(sys.modules["chatgpt_es.emulator"].__file__ or "").parent / "captures"
    for name, capture in [("01-get-front-stream-off.html", "real"), ("01-get-front-page.html", "real-aipkit")]:
        assert (shipped / name).read_bytes() == (FIXTURES / capture / name).read_bytes()


def test_record_saves_under_fixtures_recorded_of_the_current_folder_and_regress_finds_it(
        legacy_site: Emulator, tmp_path: Path) -> None:
    done = cli("record", "first", "Hello", *site_args(legacy_site), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "fixtures/recorded/first/case.json").is_file()
    replay = cli("regress", cwd=tmp_path)
    assert (replay.returncode, replay.stdout.strip()) == (0, "1 cases, 0 mismatches")


def test_record_refuses_a_name_that_is_not_a_plain_name(legacy_site: Emulator, tmp_path: Path) -> None:
    for name in ("../escape", "a/b", "..", "/abs"):
        done = cli("record", name, "Hello", *site_args(legacy_site), cwd=tmp_path)
        assert done.returncode == 2, (name, done.stderr)
        assert "not a plain name" in done.stderr
    assert list(tmp_path.iterdir()) == []
    assert legacy_site.counters.snapshot()["requests"] == 0


def test_regress_without_a_fixtures_folder_says_so(tmp_path: Path) -> None:
    done = cli("regress", cwd=tmp_path)
    assert done.returncode == 2
    assert "no fixtures folder at" in done.stderr and "give PATH" in done.stderr


def test_emulate_tls_without_trustme_names_the_extra_to_install() -> None:
    code = ("import sys\nsys.modules['trustme'] = None\nfrom chatgpt_es.cli import main\n"
            "main(['emulate', '--tls', '--port', '0'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["error: the local site's --tls needs trustme: "
                                                "pip install 'chatgpt-es[tls]'"]
