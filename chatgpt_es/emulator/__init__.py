"""A local WordPress + AI Power chat site (legacy ``wpaicg`` and AIPKit generations) for offline tests.

Start it from code with ``EmulatorThread`` (sync) or ``running_emulator`` (async), or with
``serve_forever`` in a process of its own.
"""

from chatgpt_es.emulator.config import FAULT_KINDS, EmulatorConfig
from chatgpt_es.emulator.counters import Counters, CounterSnapshot
from chatgpt_es.emulator.server import EmulatorThread, running_emulator, serve_forever
from chatgpt_es.emulator.state import Emulator

__all__ = [
    "FAULT_KINDS",
    "CounterSnapshot",
    "Counters",
    "Emulator",
    "EmulatorConfig",
    "EmulatorThread",
    "running_emulator",
    "serve_forever",
]
