"""Images of the caller's last message: OpenAI-style ``image_url`` parts with data URLs, checked as AIPKit does.

AIPKit takes them on the cache POST as ``image_inputs`` (PROTOCOL-aipkit-additions §2): a JSON list of
``{mime_type, base64_data}``, 1–4 images, ``image/jpeg``, ``image/png`` or ``image/webp``, each at most
20 MB decoded.  Everything is checked here, before any request, so that a bad image is a typed error
naming the part instead of a refusal (or a silently dropped image) from the site.  An image without text
is refused: the plugin drops it before the model (§2.4).  Images of earlier turns are not sent again, as
the site's own script does not re-send them either.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import InvalidImageError
from .models import Image

MIME_TYPES = ("image/jpeg", "image/png", "image/webp")
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 20 * 1024 * 1024
_DATA_URL = re.compile(r"data:(?P<mime>[^;,]{1,100})(?:;[^;,]{0,100})*;base64,", re.I)
_SPACE = re.compile(r"\s+")
_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))


def is_image_part(part: Any) -> bool:
    return isinstance(part, Mapping) and part.get("type") in ("image_url", "input_image")


def _url_of(part: Mapping[str, Any], where: str) -> str:
    value = part.get("image_url")
    url = value.get("url") if isinstance(value, Mapping) else value
    if not isinstance(url, str):
        raise InvalidImageError(f"{where} has no image_url.url string")
    return url


def image_of(part: Mapping[str, Any], where: str) -> Image:
    """One ``image_url`` part as a checked :class:`Image`."""
    url = _url_of(part, where)
    match = _DATA_URL.match(url)
    if match is None:
        shown = "an http(s) URL" if url.lower().startswith(("http:", "https:")) else "not a data URL"
        raise InvalidImageError(f"{where} is {shown}: the site takes the image itself, as data:image/…;base64,…")
    mime = match.group("mime").strip().lower()
    if mime not in MIME_TYPES:
        raise InvalidImageError(f"{where} is {mime}; the site takes {', '.join(MIME_TYPES)}")
    data = _SPACE.sub("", url[match.end():])
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidImageError(f"{where} is not valid base64") from None
    if not raw:
        raise InvalidImageError(f"{where} is empty")
    if len(raw) > MAX_IMAGE_BYTES:
        raise InvalidImageError(f"{where} is {len(raw)} bytes; the site takes at most {MAX_IMAGE_BYTES} (20 MB)")
    return Image(mime, data)


def images_of(content: Any, text: str, where: str) -> tuple[Image, ...]:
    """The images of a message's content (a list of parts), checked; none for a plain string."""
    if isinstance(content, str) or not isinstance(content, Sequence):
        return ()
    images = tuple(image_of(part, f"{where}.content[{i}]") for i, part in enumerate(content) if is_image_part(part))
    if len(images) > MAX_IMAGES:
        raise InvalidImageError(f"{where} has {len(images)} images; the site takes at most {MAX_IMAGES}")
    if images and not text.strip():
        raise InvalidImageError(f"{where} has an image but no text: the site would drop the image before its model")
    return images


def image_inputs(images: tuple[Image, ...]) -> str:
    """AIPKit's ``image_inputs`` field: the JSON the site's script sends (``JSON.stringify`` of the list)."""
    return json.dumps([{"mime_type": i.mime_type, "base64_data": i.base64_data} for i in images],
                      separators=(",", ":"))


def sniff_mime(raw: bytes, name: str = "") -> str | None:
    """The image type of a file's bytes (JPEG, PNG, WebP), else by its name's extension; None when neither."""
    for magic, mime in _MAGIC:
        if raw.startswith(magic):
            return mime
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "image/webp"
    extension = name.lower().rpartition(".")[2]
    return {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}.get(extension)


def data_url(raw: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(raw).decode()}"
