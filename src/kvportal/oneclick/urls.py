from django.urls import path

from kvportal.oneclick import views

app_name = "oneclick"

urlpatterns = [
    path("einreichung/<int:pk>/erzeugen/", views.ese_create, name="ese_create"),
    path("<int:pk>/ese.xml", views.ese_xml, name="ese_xml"),
]
