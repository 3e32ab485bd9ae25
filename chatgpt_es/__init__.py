"""Everything around the pipeline: the client (session, token cache), trace, CLI, local site, batch, regress.

The stages live in :mod:`stages`, the orchestrator and the ``ChatGptEs`` provider in :mod:`pipeline`.
"""
