from django.urls import path

from kvportal.core import views

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("api/openapi.json", views.openapi, name="openapi"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
]
