"""Request types for annotations: a view behind `login_required` (or `member_required`,
`staff_role_required`) sees a logged-in `User`, not `User | AnonymousUser`."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeGuard

from django.http import HttpRequest

if TYPE_CHECKING:
    # annotation only: core imports no domain app at runtime (import contract "layers")
    from kvportal.accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """`HttpRequest` of a view that runs only for a logged-in user (the django-stubs pattern);
    used in annotations, never instantiated."""

    user: User


def is_authenticated(request: HttpRequest) -> TypeGuard[AuthenticatedHttpRequest]:
    """`request.user.is_authenticated`, telling the type checker that `request.user` is a
    `User` where it holds (for views that handle anonymous and logged-in users)."""
    return request.user.is_authenticated
