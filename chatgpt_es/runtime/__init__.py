"""The runtime around one message: the session and its caches, retries and deadlines, the trace, logging.

It sits between the pure stages (:mod:`stages`, below) and the orchestrator (:mod:`pipeline`, above), and
imports only downward.
"""
