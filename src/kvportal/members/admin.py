from django.contrib import admin

from kvportal.members.models import Betriebsstaette, Person, Taetigkeit


class TaetigkeitInline(admin.TabularInline):
    model = Taetigkeit
    extra = 0
    autocomplete_fields = ["person", "betriebsstaette"]


@admin.register(Betriebsstaette)
class BetriebsstaetteAdmin(admin.ModelAdmin):
    list_display = ["bsnr", "name", "kind", "site", "bezirk", "city"]
    list_filter = ["kind", "site", "bezirk"]
    search_fields = ["bsnr", "name", "city"]
    inlines = [TaetigkeitInline]


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["lanr", "full_name", "profession", "fachgruppe", "telematik_id"]
    list_filter = ["profession"]
    search_fields = ["lanr", "last_name", "first_name", "telematik_id"]
    inlines = [TaetigkeitInline]
