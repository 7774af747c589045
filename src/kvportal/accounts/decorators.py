"""Access decorators for member and staff views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Concatenate, ParamSpec, TypeVar, cast

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

from kvportal.accounts import scope
from kvportal.accounts.constants import AccountKind, StaffRole
from kvportal.core.http import AuthenticatedHttpRequest

P = ParamSpec("P")
R = TypeVar("R", bound=HttpResponseBase)

#: a view that runs only for a logged-in user (its request's `user` is a `User`) ...
AuthenticatedView = Callable[Concatenate[AuthenticatedHttpRequest, P], R]
#: ... as the URL configuration calls it (any request; anonymous users go to the login page)
View = Callable[Concatenate[HttpRequest, P], R]


def member_required(view: AuthenticatedView[P, R]) -> View[P, R]:
    """Logged-in practice user (member or Praxispersonal)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> R:
        user = request.user
        if not user.is_authenticated or user.kind == AccountKind.STAFF:
            raise Http404("Nicht gefunden.")
        return view(_authenticated(request), *args, **kwargs)

    return wrapper


def staff_role_required(
    *roles: StaffRole,
) -> Callable[[AuthenticatedView[P, R]], View[P, R]]:
    """KV staff holding at least one of `roles` (404 for everybody else)."""

    def decorator(view: AuthenticatedView[P, R]) -> View[P, R]:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> R:
            held = scope.staff_roles(request.user)
            if not held or (roles and not held.intersection(roles)):
                raise Http404("Nicht gefunden.")
            return view(_authenticated(request), *args, **kwargs)

        return wrapper

    return decorator


def _authenticated(request: HttpRequest) -> AuthenticatedHttpRequest:
    """The request behind `login_required`: its user is logged in (the same object, narrowed
    for the type checker)."""
    return cast(AuthenticatedHttpRequest, request)
