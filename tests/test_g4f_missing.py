"""Without g4f, ``import chatgpt_es.g4f`` says what to install (runs in every venv: g4f is hidden here)."""

from __future__ import annotations

import importlib
import sys

import pytest

import pipeline


def test_importing_the_g4f_provider_without_g4f_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n == "g4f" or n.startswith(("g4f.", "chatgpt_es.g4f"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "g4f", None)  # "import g4f…" now raises ImportError, installed or not
    with pytest.raises(pipeline.MissingRequirementsError, match=r"pip install 'chatgpt-es\[g4f\]'") as caught:
        importlib.import_module("chatgpt_es.g4f")
    assert isinstance(caught.value, ImportError)
    assert "chatgpt_es.g4f" not in sys.modules
