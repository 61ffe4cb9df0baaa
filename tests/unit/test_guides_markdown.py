"""Markdown rendering of concern guides and API key list parsing (pure)."""

from __future__ import annotations

import pytest

from quilt.api.guides import markdown
from quilt.engine.api_keys import parse_key_list
from quilt.errors import BadRequest


def test_markdown_renders_headings_and_lists() -> None:
    """Nested keys become headings, scalars bullet points, lists items."""
    text = markdown({"concern": "x", "routes": [{"method": "GET"}], "rules": ["one"]})
    assert "- **concern**: x" in text
    assert "# routes" in text
    assert "- - **method**: GET" in text
    assert "- one" in text


def test_key_list_parses_pairs() -> None:
    """QUILT_API_KEYS is key:tenant pairs separated by commas."""
    assert parse_key_list("k1:tenA, k2:tenB") == [("k1", "tenA"), ("k2", "tenB")]
    with pytest.raises(BadRequest):
        parse_key_list("no-tenant")
