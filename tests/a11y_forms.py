"""HTML checks for failed forms (WCAG 1.3.1, 3.3.1, 2.4.3): parsed with the standard library."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class _Page:
    ids: list[str] = field(default_factory=list)
    describedby: list[tuple[str, str]] = field(default_factory=list)  # (element id, ref)
    invalid: list[str] = field(default_factory=list)
    summaries: list[dict] = field(default_factory=list)
    first_form_child_is_summary: list[bool] = field(default_factory=list)


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.page = _Page()
        self._summary_depth = 0
        self._depth = 0
        self._form_open = False
        self._form_first_seen = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        void = tag in {"input", "br", "img", "meta", "link", "hr"}
        if not void:
            self._depth += 1
        if a.get("id"):
            self.page.ids.append(a["id"])
        for ref in (a.get("aria-describedby") or "").split():
            self.page.describedby.append((a.get("id") or tag, ref))
        if a.get("aria-invalid") == "true":
            self.page.invalid.append(a.get("id") or tag)
        if tag == "form":
            self._form_open, self._form_first_seen = True, False
        elif self._form_open and not self._form_first_seen and tag not in {"input"}:
            self._form_first_seen = True
            self.page.first_form_child_is_summary.append("data-error-summary" in a)
        if "data-error-summary" in a and not self._summary_depth:
            self.page.summaries.append({"tabindex": a.get("tabindex"), "links": []})
            self._summary_depth = self._depth
        elif self._summary_depth and tag == "a":
            self.page.summaries[-1]["links"].append(a.get("href", ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form_open = False
        if self._summary_depth and self._depth == self._summary_depth:
            self._summary_depth = 0
        self._depth -= 1


def parse(html: str) -> _Page:
    parser = _Parser()
    parser.feed(html)
    return parser.page


def assert_errors_tied(html: str, *, expect_links: int = 1) -> _Page:
    """Every aria-describedby id exists; a focusable summary links to invalid fields."""
    page = parse(html)
    ids = set(page.ids)
    missing = [(el, ref) for el, ref in page.describedby if ref not in ids]
    assert not missing, f"aria-describedby points to missing ids: {missing}"
    assert page.summaries, "no error summary on a failed form"
    summary = page.summaries[0]
    assert summary["tabindex"] == "-1"
    assert len(summary["links"]) >= expect_links, summary
    for href in summary["links"]:
        assert href.startswith("#") and href[1:] in ids, f"summary link {href} has no target"
    assert page.invalid, "no input marked aria-invalid"
    for target in summary["links"]:
        assert target[1:] in page.invalid or any(
            target[1:] == el for el, _ref in page.describedby
        ), f"{target} is linked but not marked invalid"
    return page
