"""The local site (``chatgpt_es.emulator``) against the real plugin: the same requests to both give the same
status, content type and answer shape. Every row is printed as a table at the end of the run."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from chatgpt_es.emulator import EmulatorThread
from real_plugin.exchanges import EXCHANGES, SITES, Send, Target
from real_plugin.shapes import COMPARISONS, Comparison, Shape
from real_plugin.stand import Stand

pytestmark = pytest.mark.real_plugin

#: (site, exchange) -> why the local site answers differently for now; a row listed here must still differ
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module")
def targets(stand: Stand) -> Iterator[dict[str, tuple[Target, Target]]]:
    """Per site: (the local site, the real one), each as a browser sees it after loading the chat page."""
    with contextlib.ExitStack() as running:
        pairs = {}
        for key, site in SITES.items():
            emu = running.enter_context(EmulatorThread(site.config))
            real_base = f"http://{urlsplit(site.real_page).netloc}"
            pairs[key] = (Target.load(emu.base_url, emu.base_url + site.local_path),
                          Target.load(real_base, site.real_page))
        yield pairs


@pytest.mark.parametrize(("site", "name", "send"), EXCHANGES, ids=[f"{site}: {name}" for site, name, _ in EXCHANGES])
def test_the_local_site_answers_like_the_real_plugin(targets: dict[str, tuple[Target, Target]], site: str,
                                                     name: str, send: Send) -> None:
    local, real = targets[site]
    known = KNOWN_DIFFERENCES.get((site, name), "")
    row = Comparison(f"{SITES[site].name}: {name}", Shape.of(send(local)), Shape.of(send(real)), known)
    COMPARISONS.append(row)
    if known:
        assert not row.same, f"the local site now answers like the real plugin: drop {(site, name)} from KNOWN"
    else:
        assert row.local == row.real
