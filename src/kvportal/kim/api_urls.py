from django.urls import path

from kvportal.kim import api, api_directory

app_name = "kim_api"

urlpatterns = [
    path("fhir/Organization", api.search_organization, name="organization"),
    path("fhir/Organization/<str:rid>", api.read_organization, name="organization_read"),
    path("fhir/Practitioner", api.search_practitioner, name="practitioner"),
    path("fhir/Practitioner/<str:rid>", api.read_practitioner, name="practitioner_read"),
    path("fhir/PractitionerRole", api.search_practitioner_role, name="role"),
    path("fhir/PractitionerRole/<str:rid>", api.read_practitioner_role, name="role_read"),
    path("fhir/Endpoint", api.search_endpoint, name="endpoint"),
    path("fhir/Endpoint/<str:rid>", api.read_endpoint, name="endpoint_read"),
    # directory administration (KV as card issuer), shape of gematik I_Directory_Administration
    path("DirectoryEntries", api_directory.entries, name="directory_entries"),
    path("DirectoryEntries/<str:uid>", api_directory.entry_detail, name="directory_entry"),
    path(
        "DirectoryEntries/<str:uid>/baseDirectoryEntries",
        api_directory.entry_base,
        name="directory_entry_base",
    ),
    path("DirectoryEntries/<str:uid>/active", api_directory.entry_active, name="directory_active"),
    path(
        "DirectoryEntries/<str:uid>/versions",
        api_directory.entry_versions,
        name="directory_versions",
    ),
]
