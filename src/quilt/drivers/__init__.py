"""Quilt."""
