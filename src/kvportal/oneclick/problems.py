"""The refusal of a received document (Begleitdatei, eSE): its problems, each with a German
`text` naming what is wrong and where. No Django."""

from __future__ import annotations

import re
from typing import Generic, Protocol, TypeVar


class _Problem(Protocol):
    @property
    def text(self) -> str: ...


P = TypeVar("P", bound=_Problem)


class ProblemsError(ValueError, Generic[P]):
    """`problems` as given; the message is their texts joined."""

    def __init__(self, problems: list[P]) -> None:
        self.problems = problems
        super().__init__(" ".join(p.text for p in problems))

    @property
    def texts(self) -> list[str]:
        return [p.text for p in self.problems]


def element_path(element) -> str:
    """The element's path from the root, without namespaces (for „Element …“ in a problem)."""
    names = []
    while element is not None:
        names.append(re.sub(r"^\{[^}]*\}", "", str(element.tag)))
        element = element.getparent()
    return "/".join(reversed(names))
