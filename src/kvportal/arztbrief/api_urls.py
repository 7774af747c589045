from django.urls import path

from kvportal.arztbrief import api

app_name = "arztbrief_api"

urlpatterns = [
    path("nachweise/", api.nachweise, name="nachweise"),
]
