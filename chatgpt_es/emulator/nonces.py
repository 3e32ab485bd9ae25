"""WordPress nonces as a logged-out visitor gets them.

WordPress derives a nonce from a time *tick* (``ceil(time / (nonce_life / 2))``), the action, the user id
(0 for a guest) and the session token (empty for a guest): ``substr(wp_hash("$tick|$action|$uid|$token",
'nonce'), -12, 10)`` where ``wp_hash`` is an HMAC-MD5 keyed with the site's salts.  ``wp_verify_nonce``
accepts the nonce of the current tick and of the previous one, so a nonce lives 12 to 24 hours by default.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Callable

LEGACY_ACTION = "wpaicg-chatbox"
AIPKIT_ACTION = "aipkit_frontend_chat_nonce"


class NonceMaker:
    """Creates and verifies nonces with a per-site random secret (the salts) and an injectable clock."""

    def __init__(self, life: float, clock: Callable[[], float], secret: bytes | None = None) -> None:
        self.life = life
        self.clock = clock
        self._secret = secret if secret is not None else secrets.token_bytes(32)

    def tick(self, at: float | None = None) -> int:
        now = self.clock() if at is None else at
        return math.ceil(now / (self.life / 2))

    def for_tick(self, tick: int, action: str) -> str:
        digest = hmac.new(self._secret, f"{tick}|{action}|0|".encode(), hashlib.md5).hexdigest()
        return digest[-12:-2]

    def create(self, action: str) -> str:
        return self.for_tick(self.tick(), action)

    def verify(self, nonce: str | None, action: str) -> int:
        """Like ``wp_verify_nonce``: 1 = current tick, 2 = previous tick, 0 = invalid."""
        if not nonce:
            return 0
        tick = self.tick()
        for age, candidate_tick in ((1, tick), (2, tick - 1)):
            expected = self.for_tick(candidate_tick, action).encode()
            if hmac.compare_digest(expected, nonce.encode("utf-8", "surrogatepass")):
                return age
        return 0
