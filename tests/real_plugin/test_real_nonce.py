"""A nonce that stops being valid mid-conversation (``NONCE_SALT`` changed on the site): the same client
notices the refusal, gets a fresh nonce, and the conversation goes on with its history intact."""

from __future__ import annotations

import secrets

import pytest

import pipeline
from real_plugin.calls import failures, provider_for, run
from real_plugin.expectations import SITE_PREFIX_ROLES, echo
from real_plugin.stand import DEFAULT_NONCE_SALT, PAGES, Stand, StandPage

pytestmark = pytest.mark.real_plugin


async def two_turns_with_a_new_salt_between(stand: Stand, page: StandPage,
                                            trace: pipeline.Trace) -> tuple[str, str]:
    async with pipeline.Client() as client:
        chat = pipeline.Chat(client, provider_for(page.url).site(system_prompt=""))
        first = await chat.say("Remember the number 42.")
        stand.set_nonce_salt(page.site, "salt-" + secrets.token_hex(8))
        try:
            second = await chat.say("Which number?", trace)
        finally:
            stand.set_nonce_salt(page.site, DEFAULT_NONCE_SALT)
    return first, second


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_the_same_client_recovers_from_a_nonce_that_went_stale(stand: Stand, page: StandPage) -> None:
    mark = stand.model_mark()
    trace = pipeline.Trace()
    first, second = run(two_turns_with_a_new_salt_between(stand, page, trace))

    prefix = SITE_PREFIX_ROLES[page.generation]
    assert first == echo("Remember the number 42.", (*prefix, "user"))
    assert second == echo("Which number?", (*prefix, "user", "assistant", "user"))
    assert failures(trace) == ["NonceRejectedError"]  # refused once, then renewed: no retry, no other error
    assert len(stand.model_requests_since(mark)) == 2  # the refused request never reached the model
