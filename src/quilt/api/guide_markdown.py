"""The shapes of the concern guide documents (help, examples, health) and their Markdown.

Pure: each renderer turns one document into Markdown for people; no HTTP, no platform.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Literal, NotRequired, TypedDict


class BodyField(TypedDict):
    """One field of a route's JSON body, as its model's schema states it."""

    type: str | list[str | None]
    required: bool
    description: NotRequired[str]


class RouteHelp(TypedDict):
    """One method of one route: what it takes and what it answers."""

    method: str
    path: str
    summary: str
    description: str
    status: int
    query: list[str]
    body: dict[str, BodyField]
    response: str | None


class HelpDoc(TypedDict):
    """A concern's help: its summary, its routes and the rules that apply to them."""

    concern: str
    summary: str
    routes: list[RouteHelp]
    rules: list[str]


class Example(TypedDict):
    """One canonical request: what it does, where it goes, and its JSON body if any."""

    title: str
    method: str
    path: str
    body: dict[str, object] | None


class ExamplesDoc(TypedDict):
    """A concern's canonical requests."""

    concern: str
    examples: list[Example]


class Component(TypedDict):
    """One probed dependency of a concern."""

    name: str
    ok: bool
    detail: str


class HealthDoc(TypedDict):
    """Whether a concern can take new work, from its components' probes."""

    concern: str
    status: Literal["ok", "degraded"]
    components: list[Component]
    runtime: NotRequired[str]
    storage_backend: NotRequired[str]
    warm_pool: NotRequired[dict[str, int]]


def _cell(text: str) -> str:
    """Text made safe for one table cell (pipes escaped, lines joined)."""
    return " ".join(text.replace("|", "\\|").split())


def _row(*cells: str) -> str:
    """One Markdown table row."""
    return "| " + " | ".join(cells) + " |"


def _table(header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> list[str]:
    """A Markdown table: header, rule, and rows whose cells are escaped."""
    return [
        _row(*header),
        _row(*("---" for _ in header)),
        *(_row(*(_cell(cell) for cell in row)) for row in rows),
    ]


def type_name(schema_type: str | list[str | None]) -> str:
    """A JSON schema type for people: `["string", "null"]` reads `string or null`."""
    if isinstance(schema_type, str):
        return schema_type
    # An entry without a type is a reference or an unconstrained value; an empty list is "any".
    return " or ".join(t for t in schema_type if t) or "any"


def _route(route: RouteHelp) -> list[str]:
    """The section of one route in a help document."""
    lines = [f"### {route['method']} {route['path']} → {route['status']}", ""]
    if text := route["description"] or route["summary"]:
        lines += [text, ""]
    if route["query"]:
        lines += ["Query: " + ", ".join(f"`{name}`" for name in route["query"]), ""]
    if route["body"]:
        rows = [
            (
                f"`{name}`",
                type_name(field["type"]),
                "yes" if field["required"] else "no",
                field.get("description", ""),
            )
            for name, field in route["body"].items()
        ]
        lines += [*_table(("Field", "Type", "Required", "Description"), rows), ""]
    if route["response"]:
        lines += [f"Response: `{route['response']}`", ""]
    return lines


def help_markdown(doc: HelpDoc) -> str:
    """A concern's help as Markdown: summary, one section per route, then the rules."""
    lines = [f"# {doc['concern']}", "", doc["summary"], "", "## Routes", ""]
    for route in doc["routes"]:
        lines += _route(route)
    lines += ["## Rules", "", *(f"- {rule}" for rule in doc["rules"])]
    return "\n".join(lines) + "\n"


def examples_markdown(doc: ExamplesDoc) -> str:
    """A concern's examples as Markdown: per example its title, request line and JSON body."""
    lines = [f"# {doc['concern']} examples", ""]
    for example in doc["examples"]:
        lines += [f"## {example['title']}", "", f"`{example['method']} {example['path']}`", ""]
        if example["body"] is not None:
            body = json.dumps(example["body"], indent=2, ensure_ascii=False)
            lines += ["```json", body, "```", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _value(value: object) -> str:
    """An extra health value for people: mappings as `key: value` pairs, empty as `none`."""
    if isinstance(value, dict):
        return ", ".join(f"{key}: {item}" for key, item in value.items()) or "none"
    return str(value)


def health_markdown(doc: HealthDoc) -> str:
    """A concern's health as Markdown: the verdict, a table of components, then extra facts."""
    rows = [(c["name"], "yes" if c["ok"] else "no", c["detail"]) for c in doc["components"]]
    lines = [
        f"# {doc['concern']} health: {doc['status']}",
        "",
        *_table(("Component", "OK", "Detail"), rows),
    ]
    extra = [
        f"- {key}: {_value(value)}"
        for key, value in doc.items()
        if key not in {"concern", "status", "components"}
    ]
    if extra:
        lines += ["", *extra]
    return "\n".join(lines) + "\n"
