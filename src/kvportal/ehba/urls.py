from django.urls import path

from kvportal.ehba import views, views_status

app_name = "ehba"

urlpatterns = [
    path("anmelden/", views.card_login, name="login"),
    path("challenge/", views.challenge, name="challenge"),
    path("zweiter-faktor/", views.second_factor, name="second_factor"),
    path("registrieren/", views.register, name="register"),
    path("einrichtung/", views_status.checklist, name="checklist"),
    path(
        "registrierung/<int:pk>/entfernen/", views.registration_remove, name="registration_remove"
    ),
    path(
        "registrierung/<int:pk>/zweiter-faktor/",
        views.registration_second_factor,
        name="registration_second_factor",
    ),
    path("signieren/<str:label>/<str:pk>/", views.sign_application, name="sign"),
    path("dokument/<int:pk>/<str:version>.pdf", views.document_download, name="document_download"),
    path("dokument/<int:pk>/hochladen/", views.document_upload, name="document_upload"),
    path("pruefprotokoll/<int:pk>/", views.report_detail, name="report"),
    path("kv/registrierungen/", views.staff_registrations, name="staff_registrations"),
]
