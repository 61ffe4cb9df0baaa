"""Markdown rendering of concern guides and API key list parsing (pure)."""

from __future__ import annotations

import json
import re

import pytest

from quilt.api.guide_markdown import (
    ExamplesDoc,
    HealthDoc,
    HelpDoc,
    examples_markdown,
    health_markdown,
    help_markdown,
    type_name,
)
from quilt.api.guides import EXAMPLES
from quilt.engine.api_keys import parse_key_list
from quilt.errors import BadRequest

HELP: HelpDoc = {
    "concern": "volumes",
    "summary": "Named data that outlives containers.",
    "routes": [
        {
            "method": "POST",
            "path": "/api/volumes/{name}/files",
            "summary": "Write a file",
            "description": "Write a file.\n\nParents are created.",
            "status": 201,
            "query": [],
            "body": {
                "path": {"type": "string", "required": True, "description": "from the root"},
                "mode": {"type": ["integer", "string"], "required": False},
                "owner": {"type": ["string", "null"], "required": False, "description": "a|b"},
            },
            "response": "VolumeFile",
        },
        {
            "method": "GET",
            "path": "/api/volumes/{name}/ls",
            "summary": "List a directory",
            "description": "",
            "status": 200,
            "query": ["path", "page"],
            "body": {},
            "response": None,
        },
    ],
    "rules": ["Authenticate with X-Api-Key.", "Sizes are in MiB."],
}


def _section(text: str, heading: str) -> str:
    """The lines of a Markdown document from a heading up to the next heading of any level."""
    start = text.index(heading + "\n")
    end = text.find("\n#", start + len(heading))
    return text[start : end if end != -1 else len(text)]


def test_help_opens_with_the_concern_and_its_summary() -> None:
    """Help starts with the concern as title, then its summary, then the routes section."""
    text = help_markdown(HELP)
    assert text.startswith("# volumes\n\nNamed data that outlives containers.\n\n## Routes\n")


def test_help_heads_each_route_with_method_path_and_status() -> None:
    """Each route is a third-level heading naming method, path and status code."""
    text = help_markdown(HELP)
    assert "### POST /api/volumes/{name}/files → 201\n" in text
    assert "### GET /api/volumes/{name}/ls → 200\n" in text


def test_help_tables_the_body_fields() -> None:
    """Body fields form a table; union types read `a or b`, required reads yes or no."""
    section = _section(help_markdown(HELP), "### POST /api/volumes/{name}/files → 201")
    assert "| Field | Type | Required | Description |" in section
    assert "| `path` | string | yes | from the root |" in section
    assert "| `mode` | integer or string | no |  |" in section
    assert "| `owner` | string or null | no | a\\|b |" in section
    assert "Write a file.\n\nParents are created." in section
    assert "Response: `VolumeFile`" in section
    assert "Query:" not in section


def test_help_lists_query_parameters_and_falls_back_to_the_summary() -> None:
    """A route with query parameters gets a Query line; without a description its summary."""
    section = _section(help_markdown(HELP), "### GET /api/volumes/{name}/ls → 200")
    assert "Query: `path`, `page`" in section
    assert "List a directory" in section
    assert "| Field" not in section
    assert "Response" not in section


def test_help_ends_with_the_rules_as_bullets() -> None:
    """The rules close the document as a bullet list under their own heading."""
    text = help_markdown(HELP)
    assert text.endswith("## Rules\n\n- Authenticate with X-Api-Key.\n- Sizes are in MiB.\n")


def test_type_name_reads_schema_types() -> None:
    """Schema types read as words; a union joins with `or`, an untyped field is `any`."""
    assert type_name("integer") == "integer"
    assert type_name(["array", "null"]) == "array or null"
    assert type_name([None, "null"]) == "null"
    assert type_name([]) == "any"


@pytest.mark.parametrize("concern", sorted(EXAMPLES))
def test_examples_fence_bodies_that_parse_back(concern: str) -> None:
    """Every example has its title heading, its request line, and a JSON block equal to its body."""
    examples = EXAMPLES[concern]
    text = examples_markdown({"concern": concern, "examples": examples})
    assert text.startswith(f"# {concern} examples\n")
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)\n```", text, re.DOTALL)]
    assert blocks == [e["body"] for e in examples if e["body"] is not None]
    for example in examples:
        assert f"## {example['title']}\n\n`{example['method']} {example['path']}`\n" in text


def test_examples_without_a_body_have_no_block() -> None:
    """An example without a body shows its request line and no JSON block."""
    doc: ExamplesDoc = {
        "concern": "activity",
        "examples": [{"title": "Newest", "method": "GET", "path": "/api/activity", "body": None}],
    }
    assert examples_markdown(doc) == "# activity examples\n\n## Newest\n\n`GET /api/activity`\n"


def test_examples_indent_json_by_two() -> None:
    """Bodies are indented by two spaces and keep non-ASCII text as it is."""
    doc: ExamplesDoc = {
        "concern": "terminals",
        "examples": [{"title": "Open", "method": "POST", "path": "/x", "body": {"id": "ctr_…"}}],
    }
    assert '```json\n{\n  "id": "ctr_…"\n}\n```' in examples_markdown(doc)


def test_health_tables_components_and_lists_extras() -> None:
    """Health names its verdict, tables components as yes or no, and lists extra facts."""
    doc: HealthDoc = {
        "concern": "containers",
        "status": "degraded",
        "components": [
            {"name": "runtime", "ok": True, "detail": "runc 1.1.12"},
            {"name": "bridge", "ok": False, "detail": "quilt0 missing | run setup"},
        ],
        "runtime": "runc",
        "storage_backend": "btrfs",
        "warm_pool": {"busybox": 2, "prod": 0},
    }
    text = health_markdown(doc)
    assert text.startswith("# containers health: degraded\n\n| Component | OK | Detail |\n")
    assert "| runtime | yes | runc 1.1.12 |" in text
    assert "| bridge | no | quilt0 missing \\| run setup |" in text
    assert text.endswith(
        "\n\n- runtime: runc\n- storage_backend: btrfs\n- warm_pool: busybox: 2, prod: 0\n"
    )


def test_health_without_extras_ends_with_the_table() -> None:
    """Health of a concern without extra facts is the verdict and the table alone."""
    doc: HealthDoc = {
        "concern": "api-keys",
        "status": "ok",
        "components": [{"name": "database", "ok": True, "detail": "sqlite"}],
    }
    assert health_markdown(doc) == (
        "# api-keys health: ok\n\n"
        "| Component | OK | Detail |\n| --- | --- | --- |\n| database | yes | sqlite |\n"
    )


def test_health_shows_an_empty_warm_pool_as_none() -> None:
    """An empty warm pool reads `none` rather than an empty value."""
    doc: HealthDoc = {"concern": "containers", "status": "ok", "components": [], "warm_pool": {}}
    assert health_markdown(doc).endswith("- warm_pool: none\n")


def test_key_list_parses_pairs() -> None:
    """QUILT_API_KEYS is key:tenant pairs separated by commas."""
    assert parse_key_list("k1:tenA, k2:tenB") == [("k1", "tenA"), ("k2", "tenB")]
    with pytest.raises(BadRequest):
        parse_key_list("no-tenant")
