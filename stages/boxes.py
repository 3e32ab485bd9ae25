"""Which chat box a message goes to: the page's boxes, the bot the caller asked for, the REST API.

A page may hold several chat boxes (two bots, the same bot twice, a legacy shortcode and a widget).
The extract stage reads them all; :func:`choose_box` picks the caller's bot (default: the first box)
and, when the caller has the site owner's key, switches the box to the REST protocol.
"""

from __future__ import annotations

import attrs

from .errors import BotNotFoundError
from .extract import extract_chatbox
from .models import ChatBox, Page
from .rest import rest_root


def extract_page(page: Page) -> ChatBox:
    """Stage: the page's chat box (with all the others in ``boxes``) and the REST root it advertises."""
    box = extract_chatbox(page.text)
    return attrs.evolve(box, rest_root=rest_root(page.headers, page.text, page.url))


def box_ids(box: ChatBox) -> tuple[str, ...]:
    """The bot ids of the page's boxes, in page order, each once."""
    return tuple(dict.fromkeys(b.bot_id or "0" for b in box.boxes or (box,)))


def choose_box(box: ChatBox, bot_id: str | None = None, api_key: str | None = None) -> ChatBox:
    """Stage: the box to talk to.

    ``bot_id`` None keeps the page's first box.  An id no box on the page has is a
    :class:`BotNotFoundError` listing the ids that are there — except with the REST API, which reaches
    any bot of the site by its id.  ``api_key`` switches the chosen box to the REST protocol.
    """
    chosen = box
    wanted = None if bot_id is None else str(bot_id).strip()
    if wanted is not None and (box.bot_id or "0") != wanted:
        match = next((b for b in box.boxes if (b.bot_id or "0") == wanted), None)
        if match is not None:
            chosen = attrs.evolve(match, boxes=box.boxes, rest_root=box.rest_root)
        elif api_key:
            chosen = attrs.evolve(box, bot_id=wanted, name=None)
        else:
            available = box_ids(box) if box.markup is not None else ()
            shown = ", ".join(available) if available else "none: the page has no chat box"
            raise BotNotFoundError(f"no chat box for bot {wanted!r} on the page; bots there: {shown}",
                                   available=available)
    if api_key:
        chosen = attrs.evolve(chosen, protocol="rest", api_key=api_key)
    return chosen
