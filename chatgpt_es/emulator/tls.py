"""HTTPS with a throw-away test CA (trustme): clients verify against ``Emulator.ca_file`` or fail.

trustme is an optional extra (``chatgpt-es[tls]``): only ``emulate --tls`` and the tests need it, so it is
imported when a TLS site starts, not with the emulator.
"""

from __future__ import annotations

import importlib
import ssl
from pathlib import Path
from typing import Any

from stages.errors import MissingRequirementsError

TLS_INSTALL_HINT = "the local site's --tls needs trustme: pip install 'chatgpt-es[tls]'"


def require_trustme() -> Any:
    """The trustme module, or :class:`MissingRequirementsError` naming the extra to install."""
    try:
        return importlib.import_module("trustme")
    except ImportError:
        raise MissingRequirementsError(TLS_INSTALL_HINT) from None


def make_server_context(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1/localhost and the CA's PEM written into ``directory``."""
    trustme = require_trustme()
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = directory / "emulator-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return context, ca_file
