"""The route table of docs/access.md, written from the access policy the tests enforce.

``./.venv/bin/python -m tests.api.access_docs`` rewrites the table between the markers in
docs/access.md; ``tests/api/test_access.py`` fails when the file differs from it, and the policy
itself is checked against the guards the routes declare, so the note cannot drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "access.md"
BEGIN, END = "<!-- routes:begin (tests/api/access_docs.py) -->", "<!-- routes:end -->"
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: Served beside the guarded routes, outside the walked table.
STATIC = (("GET", "`/docs`, `/redoc`, `/openapi.json`, `/static/…`", "public"),)


def table(policy: Mapping[tuple[str, str], str]) -> str:
    """One row per path and role, the methods joined, API routes then the crew page."""
    rows: dict[tuple[str, str], list[str]] = {}
    for (method, path), role in policy.items():
        rows.setdefault((path, role), []).append(method)
    lines = ["| method | path | role |", "|---|---|---|"]
    for (path, role), methods in sorted(rows.items(),
                                        key=lambda kv: (kv[0][0].startswith("/crew"), kv[0])):
        ms = ", ".join(sorted(methods, key=_METHODS.index))
        lines.append(f"| {ms} | `{path}` | {role} |")
    lines += [f"| {m} | {p} | {r} |" for m, p, r in STATIC]
    return "\n".join(lines)


def section(policy: Mapping[tuple[str, str], str]) -> str:
    return f"{BEGIN}\n{table(policy)}\n{END}"


def current(text: str) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]


def main() -> None:
    from tests.api.test_access import POLICY

    text = DOC.read_text()
    DOC.write_text(text.replace(current(text), section(POLICY)))
    print(f"wrote the route table of {DOC} ({len(POLICY)} routes)")


if __name__ == "__main__":
    main()
