"""List module-level functions of src/kvportal that nothing in src/kvportal refers to.

`python tests/conventions/uncalled.py` prints them (path:line name, and whether a test uses
it). A reference is any use of the name outside its own definition: a call, an attribute, a
dotted path in a string (URLconfs, settings, Celery task names) or a template. Hooks Django or
a library calls by name (decorated functions such as signal receivers and tasks, `handle`,
dunder functions such as a module's `__getattr__`) are not listed. The scan goes by name: a
function whose name another function also bears counts as called (check such names by hand).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "kvportal"
TESTS = ROOT / "tests"
SKIP = re.compile(r"^(__\w+__|ready|handle|add_arguments|main|setup|teardown)$")


def _defined(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.name, node.lineno)
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and not node.decorator_list  # receivers, tasks, registered hooks are called by name
    ]


def _words(paths) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in paths:
        for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", path.read_text(encoding="utf-8")):
            counts[word] = counts.get(word, 0) + 1
    return counts


def uncalled() -> list[tuple[str, int, str, bool]]:
    sources = [p for p in SRC.rglob("*") if p.suffix in {".py", ".html", ".txt"} and p.is_file()]
    in_src = _words(sources)
    in_tests = _words(p for p in TESTS.rglob("*.py"))
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for name, line in _defined(path):
            if SKIP.match(name):
                continue
            if in_src.get(name, 0) <= 1:  # only its own `def`
                found.append((path.relative_to(ROOT).as_posix(), line, name, name in in_tests))
    return found


if __name__ == "__main__":
    rows = uncalled()
    for module, line, name, tested in rows:
        print(f"{module}:{line} {name}" + ("  (nur Tests)" if tested else ""))
    print(f"{len(rows)} Funktionen ohne Aufrufer in src/kvportal", file=sys.stderr)
