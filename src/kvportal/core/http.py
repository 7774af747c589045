"""Request types for annotations: a view behind `login_required` (or `member_required`,
`staff_role_required`) sees a logged-in `User`, not `User | AnonymousUser`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    # annotation only: core imports no domain app at runtime (import contract "layers")
    from kvportal.accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """`HttpRequest` of a view that runs only for a logged-in user (the django-stubs pattern);
    used in annotations, never instantiated."""

    user: User
