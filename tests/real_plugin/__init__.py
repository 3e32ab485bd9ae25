"""Conformance tests against the real AI Power plugin (1.9.11 and 2.4.71) on the local stand.

Marked ``real_plugin``: the default ``pytest`` run deselects them; ``pytest -m real_plugin`` runs them.
"""
