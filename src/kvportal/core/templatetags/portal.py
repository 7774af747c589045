from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from kvportal.core import registry

register = template.Library()


@register.simple_tag(takes_context=True)
def hooks(context, name: str) -> SafeString:
    """Render every template registered for the hook `name` with the current context.

    The templates escape their own variables (autoescape), so their output is safe markup;
    returned as a plain string Django would escape it a second time."""
    flat = context.flatten()
    request = context.get("request")
    return mark_safe(  # noqa: S308 - output of autoescaped templates
        "".join(render_to_string(t, flat, request=request) for t in registry.template_hooks(name))
    )
