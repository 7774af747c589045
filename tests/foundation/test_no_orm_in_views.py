"""Issue 13, one policy for every read: views and API modules read through selectors (and the
scope layer) and write through services — no `Model.objects.…` in them. The test walks every
`views.py`, `api.py` and `views/` module of the project."""

from __future__ import annotations

import ast
from pathlib import Path

import kvportal

SRC = Path(kvportal.__file__).resolve().parent

#: Modules other branches are rewriting at the moment; they move to selectors there.
#: Each entry: module path relative to src/kvportal, reason. Empty: no view uses the ORM.
ALLOWED_MODULES: dict[str, str] = {}
#: Single functions whose ORM calls move elsewhere on another branch.
ALLOWED_FUNCTIONS: dict[tuple[str, str], str] = {}


def view_modules() -> list[Path]:
    found = set(SRC.glob("*/views.py")) | set(SRC.glob("*/api.py"))
    found |= set(SRC.glob("*/views/*.py"))
    return sorted(found)


def orm_uses(path: Path) -> list[tuple[int, str]]:
    """(line, enclosing function) of every `<anything>.objects` attribute access."""
    tree = ast.parse(path.read_text(), filename=str(path))
    hits: list[tuple[int, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name if function == "<module>" else function
        if isinstance(node, ast.Attribute) and node.attr == "objects":
            hits.append((node.lineno, function))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "<module>")
    return hits


def test_the_walk_finds_the_view_modules():
    names = {p.relative_to(SRC).as_posix() for p in view_modules()}
    assert {"documents/views.py", "accounts/api.py", "admission/views.py"} <= names


def test_the_check_sees_orm_calls(tmp_path):
    sample = tmp_path / "views.py"
    sample.write_text(
        "def page(request):\n"
        "    return Document.objects.filter(pk=1)\n"
        "x = User.objects.first()\n"
        "def fine(request):\n"
        "    return selectors.documents(request.user)\n"
    )
    assert orm_uses(sample) == [(2, "page"), (3, "<module>")]


def test_no_orm_in_views_or_api_modules():
    offenders = []
    for path in view_modules():
        name = path.relative_to(SRC).as_posix()
        if name in ALLOWED_MODULES:
            continue
        for line, function in orm_uses(path):
            if (name, function) in ALLOWED_FUNCTIONS:
                continue
            offenders.append(f"{name}:{line} ({function})")
    assert offenders == [], "ORM in views/API modules; use a selector or a service:\n" + "\n".join(
        offenders
    )
