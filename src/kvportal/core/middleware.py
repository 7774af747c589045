"""Errors are recorded in the access log (seed 000: "Aufgetretene Fehler") and users get a
German error page, never a stack trace."""

import logging

from django.db import transaction

logger = logging.getLogger("kvportal.errors")


class FriendlyErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.core.exceptions import PermissionDenied, SuspiciousOperation
        from django.http import Http404

        if isinstance(exception, Http404 | PermissionDenied | SuspiciousOperation):
            return None
        try:
            from kvportal import audit
            from kvportal.audit.models import Activity

            user = getattr(request, "user", None)
            with transaction.atomic():
                audit.record(
                    actor=user if user is not None and user.is_authenticated else None,
                    activity=Activity.ERROR,
                    detail={"error": type(exception).__name__},
                )
        except Exception:  # pragma: no cover - never hide the original error
            logger.exception("could not record error in access log")
        return None
