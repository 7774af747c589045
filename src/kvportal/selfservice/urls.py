from django.urls import path

from kvportal.selfservice import views

app_name = "selfservice"

urlpatterns = [
    path("konto/profil/", views.profile, name="profile"),
    path("konto/profil/sitzung/<int:pk>/beenden/", views.session_end, name="session_end"),
    path("konto/profil/sitzungen/beenden/", views.sessions_end_others, name="sessions_end_others"),
    path(
        "konto/profil/email-bestaetigen/",
        views.email_confirm_request,
        name="email_confirm_request",
    ),
    path("konto/email-bestaetigen/<str:token>/", views.email_confirm, name="email_confirm"),
    path("konto/passwort-vergessen/", views.forgot_password, name="forgot_password"),
    path("konto/passwort-vergessen/angefordert/", views.forgot_done, name="forgot_done"),
    path(
        "konto/mitarbeiter/<int:pk>/neues-passwort/",
        views.praxispersonal_reset,
        name="praxispersonal_reset",
    ),
    path("zugang/kv/zugangsbrief-anforderungen/", views.staff_requests, name="staff_requests"),
    path(
        "zugang/kv/zugangsbrief-anforderungen/<int:pk>/erledigt/",
        views.staff_request_done,
        name="staff_request_done",
    ),
]
