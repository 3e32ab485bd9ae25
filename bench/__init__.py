"""Benchmarks: this project's pipeline against the seed (``g4f==0.5.2.0``'s ``ChatGptEs``), side by side.

Run ``bench/run.py`` (see ``bench/README.md``); the emulated site runs in a subprocess of its own.
"""
