"""Template hooks render markup, not escaped text (the eHBA login link on the login page)."""

import re

import pytest
from django.template import Context, Template
from django.urls import reverse

from kvportal.core import registry


def main_of(html: str) -> str:
    match = re.search(r"<main\b.*?</main>", html, re.S)
    assert match, "page has a <main>"
    return match.group(0)


@pytest.mark.django_db
def test_login_page_shows_the_ehba_link_as_a_link(client):
    page = client.get(reverse("accounts:login")).content.decode()
    main = main_of(page)
    assert "&lt;" not in main, "escaped markup in <main>"
    assert re.search(r'<a [^>]*href="[^"]*ehba[^"]*"[^>]*>\s*Mit eHBA anmelden', main)


def test_hook_output_is_safe_but_its_variables_are_escaped(monkeypatch):
    monkeypatch.setattr(registry, "template_hooks", lambda name: ["ehba/_login_link.html"])
    template = Template('{% load portal %}{% hooks "login_extras" %}')
    rendered = template.render(Context({"next": '/x"><b>boese</b>'}))
    assert "<a " in rendered and "&lt;a" not in rendered
    assert "<b>" not in rendered  # a hook's variables stay escaped
