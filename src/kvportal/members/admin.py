"""Back office of the Arztregister (issue 11/13): registry edits go through
`members.services`, which audit every changed field with old and new value."""

from django.contrib import admin

from kvportal.members import services
from kvportal.members.models import Betriebsstaette, Person, Taetigkeit


class RegistryAdminMixin:
    """Saves and deletes of the entry and of its Tätigkeit rows through the services."""

    def save_model(self, request, obj, form, change):
        services.save_registry_entry(actor=request.user, entry=obj)

    def delete_model(self, request, obj):
        services.delete_registry_entry(actor=request.user, entry=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.delete_registry_entry(actor=request.user, entry=obj)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            services.delete_registry_entry(actor=request.user, entry=obj)
        for obj in instances:
            services.save_registry_entry(actor=request.user, entry=obj)
        formset.save_m2m()


class TaetigkeitInline(admin.TabularInline):
    model = Taetigkeit
    extra = 0
    autocomplete_fields = ["person", "betriebsstaette"]


@admin.register(Betriebsstaette)
class BetriebsstaetteAdmin(RegistryAdminMixin, admin.ModelAdmin):
    list_display = ["bsnr", "name", "kind", "site", "bezirk", "city"]
    list_filter = ["kind", "site", "bezirk"]
    search_fields = ["bsnr", "name", "city"]
    inlines = [TaetigkeitInline]


@admin.register(Person)
class PersonAdmin(RegistryAdminMixin, admin.ModelAdmin):
    list_display = ["lanr", "full_name", "profession", "fachgruppe", "telematik_id"]
    list_filter = ["profession"]
    search_fields = ["lanr", "last_name", "first_name", "telematik_id"]
    inlines = [TaetigkeitInline]
