"""`{% load ehba_status %}{% ehba_card_status as status %}`: the eHBA status line's data for
the requesting user on pages whose views do not pass it (issue 14)."""

from django import template

from kvportal.ehba.status import card_status

register = template.Library()


@register.simple_tag(takes_context=True)
def ehba_card_status(context):
    request = context.get("request")
    return card_status(getattr(request, "user", None))
