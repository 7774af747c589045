"""Memoized `{% url %}` and `|date` (issue 13, request-path CPU), loaded as template builtins
(settings.TEMPLATES "builtins"), so they replace Django's tags of the same name in every
template without a `{% load %}`.

A list page renders `{% url %}` and `|date` hundreds of times (the billing overview of a
Träger with 20 BSNRs: ~190 reversals at ~28 µs and ~400 date formats at ~10 µs — a fifth of
the page's CPU). Both are pure functions of their inputs, so the results are kept:

- `url`: keyed by view name, args, kwargs, current app, URL configuration (the resolver
  object, which `clear_url_caches()` replaces), script prefix and language. Output and
  errors (`NoReverseMatch`, `as var` swallowing it) are Django's.
- `date`: keyed by value, format and language (and the active time zone for datetimes —
  the engine converts aware datetimes to local time before the filter); anything
  unhashable is formatted without the memo.

Each memo holds at most `LIMIT` entries and is emptied when full or when a setting changes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import defaultfilters, defaulttags
from django.urls import get_resolver, get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.translation import get_language

register = template.Library()

LIMIT = 20_000
_urls: dict[tuple, str] = {}
_dates: dict[tuple, str] = {}


@receiver(setting_changed)
def _forget(**kwargs) -> None:
    """A changed setting (formats, time zone, URL configuration — in tests) empties the memos."""
    _urls.clear()
    _dates.clear()


def _remember(memo: dict, key: tuple, value: str) -> str:
    if len(memo) >= LIMIT:
        memo.clear()
    memo[key] = value
    return value


def cached_reverse(view_name: Any, args: list, kwargs: dict, current_app: str | None) -> str:
    """`django.urls.reverse(...)`, memoized per URL configuration, prefix and language."""
    urlconf = get_urlconf()
    try:
        key = (
            view_name,
            tuple(args),
            tuple(sorted(kwargs.items())),
            current_app,
            id(get_resolver(urlconf)),
            urlconf,
            get_script_prefix(),
            get_language(),
        )
        hash(key)
    except TypeError:
        return reverse(view_name, args=args, kwargs=kwargs, current_app=current_app)
    found = _urls.get(key)
    if found is None:
        found = _remember(
            _urls, key, reverse(view_name, args=args, kwargs=kwargs, current_app=current_app)
        )
    return found


class CachedURLNode(defaulttags.URLNode):
    def render(self, context):
        from django.urls import NoReverseMatch

        request = getattr(context, "request", None)
        current_app = getattr(request, "current_app", None)
        if current_app is None:
            current_app = getattr(getattr(request, "resolver_match", None), "namespace", None)
        args = [arg.resolve(context) for arg in self.args]
        kwargs = {name: value.resolve(context) for name, value in self.kwargs.items()}
        try:
            url = cached_reverse(self.view_name.resolve(context), args, kwargs, current_app)
        except NoReverseMatch:
            if self.asvar is None:
                raise
            url = ""
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser, token):
    """Django's `{% url %}` (same syntax, same output), memoized."""
    node = defaulttags.url(parser, token)
    return CachedURLNode(node.view_name, node.args, node.kwargs, node.asvar)


@register.filter(expects_localtime=True, is_safe=False)
def date(value, arg=None):
    """Django's `|date` (same output), memoized for dates and datetimes."""
    if not isinstance(value, dt.date):
        return defaultfilters.date(value, arg)
    zone = None
    if isinstance(value, dt.datetime):
        # equal instants in other zones compare equal: the offset and zone name are part of the key
        zone = (timezone.get_current_timezone_name(), value.utcoffset(), value.tzname())
    try:
        key = (value, str(arg) if arg is not None else None, get_language(), zone)
        found = _dates.get(key)
    except TypeError:
        return defaultfilters.date(value, arg)
    if found is None:
        found = _remember(_dates, key, defaultfilters.date(value, arg))
    return found
