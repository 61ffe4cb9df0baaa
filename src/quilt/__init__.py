"""Quilt: a self-hosted runtime platform that speaks the Quilt HTTP API."""

__version__ = "0.1.0"
