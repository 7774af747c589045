"""Back office: applications read-only (changes go through the staff pages and services,
which write the access log and history); sessions via /zulassung/kv/sitzungen/."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from kvportal.admission.models import Application, CommitteeSession


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = ("reference", "type_code", "betriebsstaette", "bezirk", "state", "session")
    list_filter = ("state", "bezirk", "committee", "type_code")
    search_fields = ("betriebsstaette__bsnr", "employee_lanr")


@admin.register(CommitteeSession)
class CommitteeSessionAdmin(ReadOnlyAdmin):
    list_display = ("date", "bezirk", "committee", "deadline", "location")
    list_filter = ("bezirk", "committee")
