"""Signatures are a provider: the owning apps register their signables (``<app>/signing.py``
from their own ready()), ehba knows none of them, and the pages link through one generic
template hook whose output is markup."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.template import Context, Template
from django.urls import reverse

from kvportal.ehba import services

EHBA_DIR = Path(services.__file__).resolve().parent.parent  # the ehba package
CONSUMERS = ("kvportal.access", "kvportal.admission", "kvportal.billing")


def test_each_owning_app_registered_its_signable():
    registered = services.signables()
    for label, module in (
        ("admission.application", "kvportal.admission.signing"),
        ("access.accessapplication", "kvportal.access.signing"),
        ("billing.submission", "kvportal.billing.signing"),
    ):
        assert registered[label].documents.__module__ == module


def test_ehba_imports_none_of_the_apps_that_use_signatures():
    offending = []
    for path in EHBA_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offending += [
                f"{path.relative_to(EHBA_DIR)}: {n}" for n in names if n.startswith(CONSUMERS)
            ]
    assert not offending


def _render(obj) -> str:
    template = Template(
        '{% load portal %}{% with obj=obj %}{% hooks "object_actions" %}{% endwith %}'
    )
    return template.render(Context({"obj": obj}))


@pytest.mark.django_db
def test_object_actions_hook_renders_the_sign_link_as_markup():
    from kvportal.billing.models import Submission
    from tests.factories import BetriebsstaetteFactory

    submission = Submission(pk=4711, betriebsstaette=BetriebsstaetteFactory())
    html = _render(submission)
    link = reverse("ehba:sign", args=["billing.submission", 4711])
    assert f'<a class="button button-secondary" href="{link}"' in html
    assert "Stattdessen mit eHBA qualifiziert signieren (QES)" in html  # billing's own text
    assert "&lt;" not in html


@pytest.mark.django_db
def test_object_actions_hook_renders_nothing_for_other_objects():
    from tests.factories import BetriebsstaetteFactory

    assert _render(BetriebsstaetteFactory()).strip() == ""
    assert _render(None).strip() == ""
