"""Issue 13: services type their acting user — `actor: User` (always present) or
`actor: User | None` (system jobs, anonymous requests) — never `Any` or untyped."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "kvportal"

ALLOWED = {"User", "User | None"}
#: Apps whose services another branch is typing right now; drop a prefix once its services
#: follow the rule. Empty: every services module types its actor.
PENDING: tuple[str, ...] = ()


def service_modules() -> list[Path]:
    return sorted(
        p
        for p in SRC.rglob("*.py")
        if "migrations" not in p.parts and ("services" in p.parts or p.name.startswith("services"))
    )


def untyped_actors(tree: ast.AST) -> list[tuple[int, str, str | None]]:
    """(line, function, annotation) of every `actor` parameter not typed User / User | None."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                if arg.arg != "actor":
                    continue
                annotation = ast.unparse(arg.annotation).strip("'\"") if arg.annotation else None
                if annotation not in ALLOWED:
                    found.append((node.lineno, node.name, annotation))
    return found


def test_the_walk_finds_service_modules():
    names = {p.relative_to(SRC).as_posix() for p in service_modules()}
    assert {"billing/services.py", "members/services.py", "ehba/services/signables.py"} <= names


def test_the_check_sees_untyped_and_any_actors():
    tree = ast.parse(
        "def a(*, actor): ...\n"
        "def b(*, actor: Any): ...\n"
        "def c(*, actor: User): ...\n"
        "def d(*, actor: User | None): ...\n"
        "def e(*, actor: 'User'): ...\n"
    )
    assert untyped_actors(tree) == [(1, "a", None), (2, "b", "Any")]


def test_every_service_types_its_actor():
    offenders = [
        f"{name}:{line} {function}(actor: {annotation})"
        for path in service_modules()
        if not (name := path.relative_to(SRC).as_posix()).startswith(PENDING)
        for line, function, annotation in untyped_actors(ast.parse(path.read_text("utf-8")))
    ]
    assert offenders == [], "type the actor as User or User | None:\n" + "\n".join(offenders)
