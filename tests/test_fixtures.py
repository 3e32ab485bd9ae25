"""Fixture-based regression: every saved case replayed through the stages, one test per case."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from chatgpt_es.cli.regress import compare, find_cases

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

CASES = find_cases(FIXTURES)


def test_there_are_cases_for_every_stage_kind() -> None:
    kinds = {key for case in CASES for key in json.loads((case / "expected.json").read_text())}
    assert {"extract", "parse", "fetch"} <= kinds
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[str(c.relative_to(FIXTURES)) for c in CASES])
def test_case_matches_its_expectations(case: Path) -> None:
    mismatches = compare(case, FIXTURES)
    assert not mismatches, "\n".join(f"{m.stage}:\n{m.diff}" for m in mismatches)


def test_a_tampered_expectation_is_reported_with_a_diff_naming_the_stage(tmp_path: Path) -> None:
    case = tmp_path / "legacy-widget"
    shutil.copytree(FIXTURES / "cases" / "legacy-widget", case)
    expected = json.loads((case / "expected.json").read_text())
    expected["extract"]["nonce"]["rule"] = "seed_any_nonce"
    (case / "expected.json").write_text(json.dumps(expected))
    [mismatch] = compare(case, tmp_path)
    assert mismatch.stage == "extract"
    assert '-  "rule": "seed_any_nonce",' in mismatch.diff
    assert '+  "rule": "wpaicg_container",' in mismatch.diff
    assert mismatch.case == "legacy-widget"
