"""Extension points: apps register navigation, start-page panels, purgers, demo seeders and
API paths here in their `AppConfig.ready()`, so shared code never imports feature apps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise


@dataclass(frozen=True)
class NavItem:
    label: str | Promise  # a lazy translation (gettext_lazy) is fine
    url_name: str
    #: "member" (practice users) or "staff" (KV back office)
    section: str = "member"
    order: int = 100
    #: predicate deciding whether the user sees the item
    visible: Callable[[Any], bool] = lambda user: True
    #: items with a group (e.g. "Verwaltung") appear together in a submenu of that name
    group: str = ""


@dataclass(frozen=True)
class Panel:
    """A card on the start page: `context(request)` returns a dict or None (= hidden)."""

    template_name: str
    context: Callable[[Any], dict | None]
    order: int = 100


@dataclass(frozen=True)
class Task:
    """An entry of "Ihre Aufgaben" on the start page: something the user has to do."""

    label: str
    url: str
    detail: str = ""
    #: the date by which it must be done (sorted first), if any
    due: dt.date | None = None


@dataclass
class PurgeResult:
    name: str
    count: int = 0
    items: list[str] = field(default_factory=list)


Purger = Callable[..., PurgeResult]  # func(*, now: datetime, dry_run: bool) -> PurgeResult

_nav: list[NavItem] = []
_panels: list[Panel] = []
_purgers: dict[str, Purger] = {}
_demo: list[tuple[int, Callable[..., None]]] = []
_api_paths: dict[str, dict] = {}
_template_hooks: dict[str, list[str]] = {}
_gate_exempt: list[str] = []
_task_sources: list[Callable[[Any], list[Task]]] = []


def register_nav(item: NavItem) -> None:
    if item not in _nav:
        _nav.append(item)


def register_panel(panel: Panel) -> None:
    if panel not in _panels:
        _panels.append(panel)


def register_purger(name: str, func: Purger) -> None:
    _purgers[name] = func


def register_demo(order: int, func: Callable[..., None]) -> None:
    """`func(world: dict, out: Callable[[str], None])`; `world` holds the demo objects."""
    if (order, func) not in _demo:
        _demo.append((order, func))


def register_api_paths(paths: dict[str, Any]) -> None:
    _api_paths.update(paths)


def register_template_hook(hook: str, template_name: str) -> None:
    """Templates rendered at a named place of a shared page, e.g. "login_extras",
    "otp_extras" (use `{% hooks "name" %}` from `core/templatetags/portal.py`)."""
    names = _template_hooks.setdefault(hook, [])
    if template_name not in names:
        names.append(template_name)


def register_gate_exempt(url_name: str) -> None:
    """URL names reachable while the security gate (password change, 2nd factor) is pending."""
    if url_name not in _gate_exempt:
        _gate_exempt.append(url_name)


def template_hooks(hook: str) -> list[str]:
    return list(_template_hooks.get(hook, []))


def gate_exempt() -> list[str]:
    return list(_gate_exempt)


# the start page (issue 13: core knows no accounts or practices)
_start_page: list[Callable[..., Any]] = []


def register_start_page(view: Callable[..., Any]) -> None:
    """The view behind ``/`` (``core:home``); registered by ``kvportal.portal``."""
    _start_page[:] = [view]


def start_page() -> Callable[..., Any] | None:
    return _start_page[0] if _start_page else None


def nav_items(user: Any, section: str) -> list[NavItem]:
    return sorted(
        (i for i in _nav if i.section == section and i.visible(user)), key=lambda i: i.order
    )


def panels() -> list[Panel]:
    return sorted(_panels, key=lambda p: p.order)


def purgers() -> dict[str, Purger]:
    return dict(_purgers)


def demo_seeders() -> list[Callable[..., None]]:
    return [f for _, f in sorted(_demo, key=lambda t: t[0])]


def api_paths() -> dict[str, dict]:
    return dict(sorted(_api_paths.items()))


def run_purgers(*, now: dt.datetime, dry_run: bool = False) -> list[PurgeResult]:
    return [func(now=now, dry_run=dry_run) for _, func in sorted(_purgers.items())]


# --- recovery of background work whose lease ran out (issue 11) -----------------------------
Recoverer = Callable[..., int]  # func(*, now: datetime) -> number of jobs started again
_recoverers: dict[str, Recoverer] = {}


def register_recoverer(name: str, func: Recoverer) -> None:
    """`func(*, now)` re-queues this app's stalled background jobs; must be idempotent."""
    _recoverers[name] = func


def run_recoverers(*, now: dt.datetime) -> dict[str, int]:
    return {name: func(now=now) for name, func in sorted(_recoverers.items())}


def register_tasks(func: Callable[[Any], list[Task]]) -> None:
    """`func(user) -> list[Task]`: the app's open tasks for the user ("Ihre Aufgaben")."""
    if func not in _task_sources:
        _task_sources.append(func)


def tasks_for(user: Any) -> list[Task]:
    """All apps' tasks for the user: those with a due date first (earliest first)."""
    tasks = [task for source in _task_sources for task in source(user)]
    return sorted(tasks, key=lambda t: (t.due is None, t.due or dt.date.min, t.label))


def nav_groups(items: list[NavItem]) -> tuple[list[NavItem], list[tuple[str, list[NavItem]]]]:
    """Split menu items into the top level and the named submenus (in order of appearance)."""
    top: list[NavItem] = []
    groups: dict[str, list[NavItem]] = {}
    for item in items:
        if item.group:
            groups.setdefault(item.group, []).append(item)
        else:
            top.append(item)
    return top, list(groups.items())


# --- the KV staff start page (issue 14) -----------------------------------------------------
_staff_counts: list[Callable[[Any], list[dict[str, Any]]]] = []


def register_staff_counts(func: Callable[[Any], list[dict[str, Any]]]) -> None:
    """`func(user) -> list[dict]`: the app's open work for KV staff on the start page; each
    dict has `role` (a StaffRole value), `key`, `label`, `url` and either `count` or
    `deadline` (a date) with `detail`. Returns [] for users without the app's role; a fixed
    number of queries."""
    if func not in _staff_counts:
        _staff_counts.append(func)


def staff_counts(user: Any) -> list[dict[str, Any]]:
    return [entry for source in _staff_counts for entry in source(user)]
