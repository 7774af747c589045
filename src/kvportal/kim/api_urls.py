from django.urls import path

from kvportal.kim import api

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
]
