"""Quilt: a self-hosted runtime platform that speaks the Quilt HTTP API.

The package re-exports the Python SDK (`from quilt import Quilt, AsyncQuilt`); importing it
loads httpx and pydantic, never the server (FastAPI, SQLAlchemy, `quilt.api`, `quilt.engine`).
"""

__version__ = "0.1.0"  # first: the SDK's clients read it while this package is importing

from quilt import sdk
from quilt.sdk import *  # noqa: F403 - the SDK's __all__, listed once there

__all__ = ["__version__", *sdk.__all__]  # noqa: PLE0604 - a list of str, locked by a test
