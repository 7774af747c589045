"""The stepper of status pages (`core/_stepper.html`): pure, no Django."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    label: str
    #: done | current | todo | problem (the applicant has to act)
    state: str
    date: dt.date | dt.datetime | None = None
    #: shown instead of a date, e.g. the expected duration of a coming step
    hint: str = ""


def build_steps(
    stages: list[tuple[str, str, dt.date | dt.datetime | None]],
    current: str,
    *,
    problem: bool = False,
    hints: dict[str, str] | None = None,
) -> list[Step]:
    """`stages` = (key, label, date) in order; steps before `current` are done, `current` is
    current (or problem), later ones are todo. An unknown `current` marks all done."""
    keys = [key for key, _label, _date in stages]
    position = keys.index(current) if current in keys else len(keys)
    hints = hints or {}
    steps = []
    for index, (key, label, date) in enumerate(stages):
        if index < position:
            state = "done"
        elif index == position:
            state = "problem" if problem else "current"
        else:
            state = "todo"
        steps.append(Step(label, state, date, "" if date else hints.get(key, "")))
    return steps
