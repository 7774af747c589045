"""Issue 13, request-path CPU: `{% url %}` and `|date` are memoized template builtins
(core/templatetags/cached_builtins.py) — with the same output as Django's own."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.template import Engine, engines
from django.template.defaultfilters import date as django_date
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation

from kvportal.core.templatetags import cached_builtins


def render(source: str, **context) -> str:
    return engines["django"].from_string(source).render(context)


def test_every_template_uses_the_memoized_tags_without_loading_them():
    template = engines["django"].from_string("{% url 'billing:detail' 5 %}")
    nodes = template.template.nodelist
    assert isinstance(nodes[0], cached_builtins.CachedURLNode)


def test_url_renders_like_django_and_twice_the_same():
    expected = reverse("billing:detail", args=[7])
    assert render("{% url 'billing:detail' 7 %}") == expected
    assert render("{% url 'billing:detail' pk %}", pk=7) == expected
    assert render("{% url 'billing:detail' pk=pk %}", pk=8) == reverse("billing:detail", args=[8])
    assert render("{% url 'billing:detail' 9 %}") != expected


def test_url_keeps_djangos_errors_and_the_as_form():
    with pytest.raises(NoReverseMatch):
        render("{% url 'billing:no_such_page' %}")
    assert render("{% url 'billing:no_such_page' as x %}[{{ x }}]") == "[]"
    assert (
        render("{% url 'billing:detail' 3 as x %}<{{ x }}>")
        == f"<{reverse('billing:detail', args=[3])}>"
    )


def test_url_memo_follows_the_script_prefix():
    from django.urls import get_script_prefix, set_script_prefix

    before = get_script_prefix()
    plain = render("{% url 'billing:detail' 4 %}")
    try:
        set_script_prefix("/portal/")
        assert render("{% url 'billing:detail' 4 %}") == "/portal" + plain
    finally:
        set_script_prefix(before)
    assert render("{% url 'billing:detail' 4 %}") == plain


def test_url_memo_follows_a_new_url_configuration(settings):
    render("{% url 'billing:detail' 4 %}")
    settings.ROOT_URLCONF = "tests.foundation.urls_other"
    assert render("{% url 'other' %}") == "/anders/"
    with pytest.raises(NoReverseMatch):
        render("{% url 'billing:detail' 4 %}")


def test_date_renders_like_django_for_dates_datetimes_and_other_values():
    day = dt.date(2026, 3, 31)
    assert render('{{ d|date:"d.m.Y" }}', d=day) == "31.03.2026"
    assert render("{{ d|date }}", d=day) == django_date(day)
    assert render('{{ d|date:"d.m.Y" }}', d=None) == ""
    assert render('{{ d|date:"d.m.Y" }}', d="kein Datum") == ""
    with translation.override("de"):
        assert render('{{ d|date:"l" }}', d=day) == "Dienstag"
    with translation.override("en"):
        assert render('{{ d|date:"l" }}', d=day) == "Tuesday"


def test_date_of_the_same_instant_in_two_zones_is_not_confused():
    instant = dt.datetime(2026, 6, 30, 22, 30, tzinfo=dt.UTC)
    with timezone.override(zoneinfo.ZoneInfo("Europe/Berlin")):
        assert render('{{ t|date:"d.m.Y H:i" }}', t=instant) == "01.07.2026 00:30"
        # {% localtime off %}: the filter sees the UTC value itself
        assert (
            render(
                '{% load tz %}{% localtime off %}{{ t|date:"d.m.Y H:i" }}{% endlocaltime %}',
                t=instant,
            )
            == "30.06.2026 22:30"
        )
    with timezone.override(zoneinfo.ZoneInfo("America/New_York")):
        assert render('{{ t|date:"d.m.Y H:i" }}', t=instant) == "30.06.2026 18:30"


def test_a_full_memo_is_emptied(monkeypatch):
    monkeypatch.setattr(cached_builtins, "LIMIT", 3)
    cached_builtins._dates.clear()
    for n in range(1, 8):
        assert render('{{ d|date:"j" }}', d=dt.date(2026, 1, n)) == str(n)
        assert len(cached_builtins._dates) <= 3


def test_an_engine_without_the_builtins_keeps_djangos_tag():
    from django.template.defaulttags import URLNode

    node = Engine().from_string("{% url 'billing:detail' 1 %}").nodelist[0]
    assert type(node) is URLNode


def test_a_changed_date_format_is_not_served_from_the_memo(settings):
    day = dt.date(2026, 2, 3)
    with translation.override(None):
        settings.DATE_FORMAT = "Y-m-d"
        assert render("{{ d|date }}", d=day) == "2026-02-03"
        settings.DATE_FORMAT = "d/m/Y"
        assert render("{{ d|date }}", d=day) == "03/02/2026"
