"""Stage 3: read the chat box's nonce, post id and settings from the page.

Rules, strongest first:

1. the chat container's own markup — legacy ``div.wpaicg-chat-shortcode`` /
   ``div.wpaicg-chatbox`` (``data-nonce``, ``data-post-id``, …) or AIPKit's
   ``div.aipkit_chat_container`` / ``div.aipkit_popup_wrapper`` (its
   HTML-escaped ``data-config`` JSON);
2. the seed's regex chain, in the seed's order (``seed_*`` rules);
3. the seed's fixed fallback values (rule ``default``).

The chat container wins over any other nonce on the page: other plugins print
their own, and the site rejects them.  The scan is linear in the page size:
containers are found with ``str.find`` on their class names, each candidate
tag is parsed once with bounded patterns, and the seed rules (bounded too)
only run when no container answered.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import attrs

from .jsontext import loads
from .models import ChatBox, Extracted

DEFAULT_NONCE = "8cf9917be2"
DEFAULT_POST_ID = "106"

LEGACY_MARKUP = ("wpaicg-chat-shortcode", "wpaicg-chatbox")
AIPKIT_MARKUP = ("aipkit_chat_container", "aipkit_popup_wrapper")
_AIPKIT_RULE = {"aipkit_chat_container": "aipkit_container", "aipkit_popup_wrapper": "aipkit_popup"}

#: longest tag we parse (an AIPKit data-config runs to ~10 KB); keeps every scan bounded
MAX_TAG = 262_144
#: how many chat boxes are read in full (``containers`` still counts them all)
MAX_BOXES = 16
#: how many ``<`` that start no tag may stand between a class name and its tag's own ``<``
MAX_LOOK_BACK = 8

_TAG_NAME = re.compile(r"<([A-Za-z][A-Za-z0-9:-]{0,63})")
_ATTRIBUTE = re.compile(
    r"""[\s/]*([^\s"'<>/=]{1,256})(?:\s*=\s*(?:"([^"]{0,MAX})"|'([^']{0,MAX})'|([^\s"'=<>`]{1,4096})))?""".replace(
        "MAX", str(MAX_TAG))
)
_TAG_END = re.compile(r"\s*/?>")

_SEED_NONCE_RULES = (
    ("seed_hidden_input",
     r"""<input\s+type\s*=\s*['"]hidden['"]\s+name\s*=\s*['"]_wpnonce['"]\s+value\s*=\s*['"]([^'"]{1,200})['"]"""),
    ("seed_wpnonce_json", r'''"_wpnonce"\s*:\s*"([^"]{1,200})"'''),
    ("seed_wpaicg_nonce_var", r"""var\s+wpaicg_nonce\s*=\s*['"]([^'"]{1,200})['"]"""),
    ("seed_wpaicg_nonce_key", r"""wpaicg_nonce\s*:\s*['"]([^'"]{1,200})['"]"""),
    ("seed_any_nonce", r"""nonce['"]?\s*[=:]\s*['"]([a-zA-Z0-9]{1,200})['"]"""),
)
_SEED_POST_ID_RULES = (
    ("seed_hidden_input",
     r"""<input\s+type\s*=\s*['"]hidden['"]\s+name\s*=\s*['"]post_id['"]\s+value\s*=\s*['"]([^'"]{1,200})['"]"""),
    ("seed_post_id_json", r'''"post_id"\s*:\s*"([^"]{1,200})"'''),
    ("seed_post_id_var", r"""var\s+post_id\s*=\s*['"]?(\d{1,20})['"]?"""),
)
# The seed rules match case-insensitively.  They run as byte patterns over the page's UTF-8 bytes with
# ASCII letters lower-cased (the patterns are ASCII): case-sensitive patterns let the regex engine jump to
# each pattern's leading literal instead of trying every position, and bytes.lower() is a fast ASCII pass
# where str.lower() on a page with non-ASCII text is not.  Values are read from the original bytes.
SEED_NONCE = tuple((name, re.compile(pattern.encode())) for name, pattern in _SEED_NONCE_RULES)
SEED_POST_ID = tuple((name, re.compile(pattern.encode())) for name, pattern in _SEED_POST_ID_RULES)
SeedRules = tuple[tuple[str, re.Pattern[bytes]], ...]
_AJAX_URL = re.compile(r'"ajax_url"\s*:\s*"((?:[^"\\]|\\.){1,2000})"')


@attrs.frozen
class Tag:
    """A start tag: its name, attributes (names lower-cased) and where each value starts."""

    name: str
    start: int
    end: int
    attributes: dict[str, str]
    positions: dict[str, int]

    def classes(self) -> list[str]:
        return self.attributes.get("class", "").split()


def parse_tag(page: str, start: int) -> Tag | None:
    """The start tag beginning at ``start`` (``page[start] == "<"``), or None if there is none."""
    name = _TAG_NAME.match(page, start)
    if name is None:
        return None
    attributes: dict[str, str] = {}
    positions: dict[str, int] = {}
    pos = name.end()
    limit = min(len(page), start + MAX_TAG)
    while pos < limit:
        end = _TAG_END.match(page, pos)
        if end is not None:
            return Tag(name.group(1).lower(), start, end.end(), attributes, positions)
        attribute = _ATTRIBUTE.match(page, pos)
        if attribute is None or attribute.end() == pos:
            return None
        key = attribute.group(1).lower()
        group = next((i for i in (2, 3, 4) if attribute.group(i) is not None), None)
        if key not in attributes:
            attributes[key] = html.unescape(attribute.group(group)) if group else ""
            positions[key] = attribute.start(group) if group else attribute.start(1)
        pos = attribute.end()
    return None


def _marker_hits(page: str) -> list[int]:
    hits: list[int] = []
    for marker in LEGACY_MARKUP + AIPKIT_MARKUP:
        pos = page.find(marker)
        while pos != -1:
            hits.append(pos)
            pos = page.find(marker, pos + len(marker))
    hits.sort()
    return hits


def find_containers(page: str) -> Iterator[tuple[str, Tag]]:
    """Every chat container in document order, as (markup, tag).

    Linear: a class-name hit looks back for its tag's ``<`` no further than
    the previous hit (past a few stray ``<`` at most), and each tag is parsed once.
    """
    previous_hit = 0
    tags: dict[int, Tag | None] = {}
    seen: set[int] = set()
    for hit in _marker_hits(page):
        lt = page.rfind("<", previous_hit, hit)
        previous_hit = hit
        if lt == -1:
            continue  # no "<" since the previous hit: same place, already decided (e.g. CSS in a <style>)
        tag = _enclosing_tag(page, lt, hit, tags)
        if tag is None or tag.start in seen:
            continue
        seen.add(tag.start)
        classes = tag.classes()
        for markup in LEGACY_MARKUP:
            if markup in classes:
                yield markup, tag
                break
        else:
            for markup in AIPKIT_MARKUP:
                if markup in classes and "data-config" in tag.attributes:
                    yield markup, tag
                    break


def _enclosing_tag(page: str, start: int, hit: int, tags: dict[int, Tag | None]) -> Tag | None:
    """The start tag holding ``hit``, looking back from the ``<`` at ``start``.

    A ``<`` that starts no tag (one inside an attribute value, ``a<b`` in a script) is stepped over, a
    few times at most; a tag that parses but ends before the hit means the hit is text, not markup.
    """
    floor = max(0, hit - MAX_TAG)
    for _ in range(MAX_LOOK_BACK):
        if start < floor:
            return None
        if start not in tags:
            tags[start] = parse_tag(page, start)
        tag = tags[start]
        if tag is not None:
            return tag if hit < tag.end else None
        start = page.rfind("<", floor, start)
    return None


def _aipkit_config(tag: Tag) -> dict[str, Any]:
    try:
        config = loads(tag.attributes["data-config"])
    except ValueError:
        return {}
    return config if isinstance(config, dict) else {}


def _config_value(config: dict[str, Any], key: str) -> str | None:
    value = config.get(key)
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


@attrs.frozen
class SeedPage:
    """The page as the seed rules read it: its UTF-8 bytes, and the same with ASCII letters lower-cased."""

    raw: bytes
    lowered: bytes

    @classmethod
    def of(cls, page: str) -> SeedPage:
        raw = page.encode("utf-8", "surrogatepass")
        return cls(raw, raw.lower())

    def first(self, rules: SeedRules, default: str) -> Extracted:
        for name, pattern in rules:
            match = pattern.search(self.lowered)
            if match:
                value = self.raw[match.start(1):match.end(1)].decode("utf-8", "replace")
                return Extracted(value, name, len(self.raw[:match.start(1)].decode("utf-8", "replace")))
        return Extracted(default, "default")


def _seed(page: str, rules: SeedRules, default: str) -> Extracted:
    return SeedPage.of(page).first(rules, default)


def _ajax_url(page: str) -> str | None:
    anchor = page.find("wpaicgParams")
    if anchor == -1:
        return None
    match = _AJAX_URL.search(page, anchor, anchor + 20_000)
    if match is None:
        return None
    try:
        value = loads(f'"{match.group(1)}"')
    except ValueError:
        return None
    return value if isinstance(value, str) and value else None


def _legacy_box(page: str, markup: str, tag: Tag, count: int) -> ChatBox:
    attrs_ = tag.attributes

    def pick(key: str, default: str, seed: SeedRules) -> Extracted:
        value = attrs_.get(key, "").strip()
        if value:
            return Extracted(value, "wpaicg_container", tag.positions[key])
        return _seed(page, seed, default)

    stream = attrs_.get("data-openai_stream_nav")
    return ChatBox(
        protocol="legacy",
        markup=markup,
        nonce=pick("data-nonce", DEFAULT_NONCE, SEED_NONCE),
        post_id=pick("data-post-id", DEFAULT_POST_ID, SEED_POST_ID),
        page_url=attrs_.get("data-url") or None,
        bot_id=attrs_.get("data-bot-id", "").strip() or None,
        box_type=attrs_.get("data-type", "").strip() or None,
        stream=stream.strip() == "1" if stream is not None else False,
        ajax_url=_ajax_url(page),
        containers=count,
    )


def _aipkit_box(page: str, markup: str, tag: Tag, count: int) -> ChatBox:
    config = _aipkit_config(tag)
    rule = _AIPKIT_RULE[markup]
    position = tag.positions.get("data-config")
    nonce_value = _config_value(config, "nonce")
    post_value = _config_value(config, "postId")
    nonce = Extracted(nonce_value, rule, position) if nonce_value else _seed(page, SEED_NONCE, DEFAULT_NONCE)
    post_id = Extracted(post_value, rule, position) if post_value else _seed(page, SEED_POST_ID, DEFAULT_POST_ID)
    return ChatBox(
        protocol="aipkit",
        markup=markup,
        nonce=nonce,
        post_id=post_id,
        bot_id=_config_value(config, "botId") or tag.attributes.get("data-bot-id", "").strip() or None,
        stream=True,
        ajax_url=_config_value(config, "ajaxUrl"),
        containers=count,
        name=_config_value(config, "headerName"),
        conversation_state=config.get("enableOpenAIConversationState") is True,
    )


def extract_chatbox(page: str) -> ChatBox:
    """Stage: page text → :class:`ChatBox`.  Never raises; falls back to the seed's defaults."""
    containers = list(find_containers(page))
    if containers:
        boxes = tuple((_legacy_box if markup in LEGACY_MARKUP else _aipkit_box)(page, markup, tag, len(containers))
                      for markup, tag in containers[:MAX_BOXES])
        return attrs.evolve(boxes[0], boxes=boxes)
    seed = SeedPage.of(page)
    return ChatBox(
        protocol="unknown",
        markup=None,
        nonce=seed.first(SEED_NONCE, DEFAULT_NONCE),
        post_id=seed.first(SEED_POST_ID, DEFAULT_POST_ID),
        ajax_url=_ajax_url(page),
    )


def extract_nonce(page: str) -> Extracted:
    """The chat nonce the page carries (``.value``) and the rule that found it (``.rule``)."""
    return extract_chatbox(page).nonce


def extract_post_id(page: str) -> Extracted:
    """The chat page's post id (``.value``) and the rule that found it (``.rule``)."""
    return extract_chatbox(page).post_id
