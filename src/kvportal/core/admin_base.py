"""Back-office model admins that only show (issue 11: every change goes through the audited
services, never through the raw admin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin

if TYPE_CHECKING:  # the mixin is only ever combined with a ModelAdmin
    _ModelAdminBase = admin.ModelAdmin[Any]
else:
    _ModelAdminBase = object


class ReadOnlyMixin(_ModelAdminBase):
    """No add, change or delete in the admin, whatever the group permissions say."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """A model admin that only lists and shows."""
