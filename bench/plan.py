"""How much the benchmark runs: message counts, repeats, the emulated site's latency."""

from __future__ import annotations

import attrs


@attrs.frozen
class Plan:
    latency: float = 0.030
    chunk_delay: float = 0.025
    sequential: int = 20
    repeats: int = 5  # ours (cheap)
    seed_repeats: int = 3  # the seed (64 concurrent take it 4 s)
    single_repeats: int = 5
    conversations: int = 64
    stream_pieces: int = 40
    cpu_messages: int = 250
    cycle_messages: int = 200
    batch_messages: int = 10_000
    batch_checkpoints: tuple[int, ...] = tuple(range(1_000, 10_001, 1_000))
    batch_concurrency: int = 32
    floor_messages: int = 300  # per round of bench/floor.py's row (scenario 9)
    floor_rounds: int = 5

    @classmethod
    def quick(cls) -> Plan:
        """A smoke run (about 30 s): fewer messages, one repeat.  Its figures are not the benchmark's."""
        return cls(sequential=5, repeats=1, seed_repeats=1, single_repeats=1, conversations=16, cpu_messages=50,
                   cycle_messages=50, batch_messages=600,
                   batch_checkpoints=tuple(range(100, 601, 100)), floor_messages=50, floor_rounds=2)
