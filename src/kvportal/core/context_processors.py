from django.conf import settings

from kvportal.core import registry


def portal(request):
    user = getattr(request, "user", None)
    authenticated = bool(user and user.is_authenticated)
    member_nav = registry.nav_items(user, "member") if authenticated else []
    staff_nav = registry.nav_items(user, "staff") if authenticated else []
    nav_top, nav_groups = registry.nav_groups(member_nav + staff_nav)
    return {
        "portal_name": "KV-Mitgliederportal",
        "idle_minutes": settings.SESSION_IDLE_MINUTES,
        "idle_seconds": int(settings.SESSION_IDLE_MINUTES * 60),
        "member_nav": member_nav,
        "staff_nav": staff_nav,
        "nav_top": nav_top,
        "nav_groups": nav_groups,
    }
