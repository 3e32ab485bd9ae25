"""AIPKit's check of ``image_inputs`` on the cache POST (PROTOCOL-aipkit-additions §2.2-2.3,
class-chat-image-input-validator.php): a JSON list of 1-4 ``{mime_type, base64_data}``, jpeg/png/webp, strict
base64 (a data-URL prefix is cut), at most 20 MB decoded.  The bot's image-upload setting is not enforced."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

import attrs

from chatgpt_es.emulator.wire import Reply, json_reply

MAX_IMAGES = 4
MAX_BYTES = 20_971_520
TYPES = ("image/jpeg", "image/png", "image/webp")


@attrs.frozen
class CachedImage:
    type: str
    size: int


def _fail(message: str, code: str, status: int = 400) -> Reply:
    return json_reply({"success": False, "data": {"message": message, "code": code}}, f"image_{code}", status)


PAYLOAD = ("Invalid image upload payload.", "invalid_image_payload")


def check_images(raw: str) -> tuple[tuple[CachedImage, ...], Reply | None]:
    """The images of the field, or the plugin's refusal."""
    if raw == "":
        return (), None
    try:
        items: Any = json.loads(raw)
    except ValueError:
        return (), _fail(*PAYLOAD)
    if not isinstance(items, list) or not items:
        return (), _fail(*PAYLOAD)
    if len(items) > MAX_IMAGES:
        return (), _fail(f"Too many images uploaded. Max images: {MAX_IMAGES}.", "too_many_images")
    images: list[CachedImage] = []
    for item in items:
        if not isinstance(item, dict) or not item.get("mime_type") or not item.get("base64_data"):
            return (), _fail(*PAYLOAD)
        mime = str(item["mime_type"]).lower()
        if mime not in TYPES:
            return (), _fail("Invalid image type. Allowed: JPG, PNG, WEBP.", "invalid_image_type")
        data = str(item["base64_data"])
        if "base64," in data:
            data = data.split("base64,", 1)[1]
        try:
            decoded = base64.b64decode(re.sub(r"\s+", "", data), validate=True)
        except (binascii.Error, ValueError):
            return (), _fail("Invalid image data provided.", "invalid_image_payload")
        if len(decoded) > MAX_BYTES:
            return (), _fail("Image is too large. Max size: 20MB.", "image_too_large", 413)
        images.append(CachedImage(mime, len(decoded)))
    return tuple(images), None
