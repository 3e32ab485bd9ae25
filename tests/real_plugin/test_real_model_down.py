"""The site's model down (the fake model stopped): the typed error, and how many times the site tried its model
for one message. The stopped model logs nothing, so the attempts are counted in the site's own access log: each
legacy chat POST, each AIPKit stream GET makes the plugin call its model once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import pipeline
from real_plugin.calls import answer, run
from real_plugin.expectations import MODEL_DOWN
from real_plugin.stand import PAGES, Stand, StandPage

pytestmark = pytest.mark.real_plugin
#: the request that makes the site call its model, as PHP's access log shows it
MODEL_CALLING_REQUEST = {
    "legacy": "POST /wp-admin/admin-ajax.php",
    "aipkit": "GET /wp-admin/admin-ajax.php?action=aipkit_frontend_chat_stream",
}


@pytest.fixture(scope="module")
def model_down(stand: Stand) -> Iterator[Stand]:
    stand.stop_model()
    try:
        yield stand
    finally:
        stand.start_model()


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_the_model_down_gives_a_typed_error(model_down: Stand, page: StandPage) -> None:
    model_mark, access_mark = model_down.model_mark(), model_down.access_mark(page.port)
    with pytest.raises(pipeline.ChatGptEsError) as caught:
        run(answer(page.url, "Anyone there?"))
    attempts = model_down.served_since(page.port, access_mark, MODEL_CALLING_REQUEST[page.generation])

    error, expected_attempts = MODEL_DOWN[page.name]
    assert (type(caught.value).__name__, attempts) == (error, expected_attempts)
    assert "\n" not in str(caught.value)
    assert model_down.model_mark() == model_mark  # the model really was down

