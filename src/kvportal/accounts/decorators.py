"""Access decorators for member and staff views."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404

from kvportal.accounts import scope
from kvportal.accounts.constants import AccountKind, StaffRole


def member_required(view):
    """Logged-in practice user (member or Praxispersonal)."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.kind == AccountKind.STAFF:
            raise Http404("Nicht gefunden.")
        return view(request, *args, **kwargs)

    return wrapper


def staff_role_required(*roles: StaffRole):
    """KV staff holding at least one of `roles` (404 for everybody else)."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            held = scope.staff_roles(request.user)
            if not held or (roles and not held.intersection(roles)):
                raise Http404("Nicht gefunden.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
