"""``{% sign_link obj %}``: the link to the signing page of a registered signable (or nothing)."""

from __future__ import annotations

from django import template

from kvportal.ehba import services

register = template.Library()


@register.inclusion_tag("ehba/_sign_link.html")
def sign_link(obj) -> dict:
    label = services.label_of(obj) if hasattr(obj, "_meta") else ""
    signable = services.signable_for(label) if label else None
    if signable is None:
        return {"label": ""}
    return {"label": label, "obj": obj, "text": signable.link_text}
