"""``chatgpt-es serve``: an OpenAI-compatible HTTP API (chat completions, streamed or not) over the pipeline."""

from chatgpt_es.server.app import ServerConfig, build_app
from chatgpt_es.server.run import ServerThread, running_server, serve
from chatgpt_es.server.sites import SiteEntry, load_sites, provider_for

__all__ = ["ServerConfig", "ServerThread", "SiteEntry", "build_app", "load_sites", "provider_for", "running_server",
           "serve"]
