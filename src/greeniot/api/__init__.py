"""The HTTP API (FastAPI) over the registry and the time-series store: ``create_app``."""

from greeniot.api.app import create_app

__all__ = ["create_app"]
