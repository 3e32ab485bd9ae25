"""``record`` keeps only cases that replay: a page without a chat box is refused before anything is sent
(test_actionable_cli), and a recording that does not replay is never moved into place."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_helpers import new_client, run, site_of

import pipeline
from chatgpt_es.cli import record
from chatgpt_es.cli.regress import Mismatch
from chatgpt_es.emulator import Emulator


def test_record_saves_nothing_when_the_case_would_not_replay(legacy_site: Emulator, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record, "compare", lambda case: [Mismatch(case.name, "parse", "- a\n+ b")])
    target = tmp_path / "fixtures" / "case"

    async def body() -> None:
        async with new_client(legacy_site) as client:
            await record.record_case(client, site_of(legacy_site), "Hello", target)

    with pytest.raises(pipeline.ChatGptEsError, match="not saved: the recorded case does not replay at stage"):
        run(body())
    assert not target.exists()


def test_record_saves_a_case_that_replays(legacy_site: Emulator, tmp_path: Path) -> None:
    target = tmp_path / "case"

    async def body() -> None:
        async with new_client(legacy_site) as client:
            await record.record_case(client, site_of(legacy_site), "Hello", target)

    run(body())
    assert {path.name for path in target.iterdir()} >= {"case.json", "expected.json", "page.html"}
