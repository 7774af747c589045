"""axe-core in the browser journeys (WCAG 2.1 AA / BITV 2.0): `assert_accessible(page)` injects
the locally installed axe-core (`npm ci` by `./dev test`, pinned in package-lock.json, no CDN)
and fails with a readable list of every violation."""

from __future__ import annotations

from pathlib import Path

import pytest

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
#: the rule sets of WCAG 2.0/2.1 level A and AA, which BITV 2.0 (EN 301 549) requires
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _axe_source() -> str:
    if not AXE_JS.exists():
        pytest.fail(
            "axe-core fehlt (node_modules/axe-core): bitte `npm ci` im Projektverzeichnis "
            "ausführen oder die Tests mit ./dev test starten."
        )
    return AXE_JS.read_text(encoding="utf-8")


def _settle(page) -> None:
    """Let the page react to a new viewport (resize handlers run before the next frames)."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def axe_violations(page) -> list[dict]:
    """Run axe-core on the current page and return its violations (empty = accessible). A page
    that navigates meanwhile (a redirect after a background action) is checked once it has
    loaded: the run is repeated on the new page, at most three times."""
    from playwright.sync_api import Error

    for attempt in range(3):
        page.wait_for_load_state("load")
        try:
            return _run_axe(page)
        except Error as exc:
            if "Execution context was destroyed" not in str(exc) or attempt == 2:
                raise
    return []  # not reached


def _run_axe(page) -> list[dict]:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # evaluated over the DevTools protocol: the page's CSP (no inline script) stays intact
        page.evaluate(_axe_source() + "\n;true")
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        AXE_TAGS,
    )
    return result["violations"]


def format_violations(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node['failureSummary'][:200]}")
    return "\n".join(lines)


def assert_accessible(page, *, widths=(1280, 390)) -> None:
    """0 axe violations at every width (desktop 1280 px, phone 390 px); restores the viewport."""
    before = page.viewport_size
    try:
        for width in widths:
            page.set_viewport_size(PHONE if width == 390 else {"width": width, "height": 900})
            _settle(page)
            violations = axe_violations(page)
            assert not violations, (
                f"axe-core: {len(violations)} Verstöße bei {width} px auf {page.url}\n"
                + format_violations(violations)
            )
    finally:
        if before:
            page.set_viewport_size(before)


def assert_no_horizontal_scroll(page) -> None:
    """At 390 px (phone) the page must not scroll sideways (WCAG 1.4.10 Reflow)."""
    before = page.viewport_size
    try:
        page.set_viewport_size(PHONE)
        _settle(page)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if overflow > 0:
            wide = page.evaluate(
                """() => {
                  const limit = document.documentElement.clientWidth + 1;
                  return [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > limit)
                    .slice(0, 5)
                    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : ''));
                }"""
            )
            raise AssertionError(
                f"{page.url} scrollt bei 390 px um {overflow} px seitlich; zu breit: {wide}"
            )
    finally:
        if before:
            page.set_viewport_size(before)
