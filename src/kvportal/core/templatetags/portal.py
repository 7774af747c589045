from django import template
from django.template.loader import render_to_string

from kvportal.core import registry

register = template.Library()


@register.simple_tag(takes_context=True)
def hooks(context, name: str) -> str:
    """Render every template registered for the hook `name` with the current context."""
    flat = context.flatten()
    request = context.get("request")
    return "".join(
        render_to_string(t, flat, request=request) for t in registry.template_hooks(name)
    )
