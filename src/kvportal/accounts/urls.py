from django.urls import path

from kvportal.accounts import views

app_name = "accounts"

urlpatterns = [
    path("anmelden/", views.LoginView.as_view(), name="login"),
    path("abmelden/", views.LogoutView.as_view(), name="logout"),
    path("anmelden/code/", views.otp_verify, name="otp_verify"),
    path("konto/passwort/", views.password_change, name="password_change"),
    path("konto/zwei-faktor/", views.otp_setup, name="otp_setup"),
    path("konto/einstellungen/", views.account_settings, name="settings"),
    path("konto/protokoll/", views.access_log, name="access_log"),
    path("konto/mitarbeiter/", views.staff_accounts, name="staff_accounts"),
    path(
        "konto/mitarbeiter/recht/<int:pk>/entziehen/",
        views.staff_right_revoke,
        name="staff_right_revoke",
    ),
    path("konto/api-zugaenge/", views.api_tokens, name="api_tokens"),
    path(
        "konto/api-zugaenge/<int:pk>/widerrufen/", views.api_token_revoke, name="api_token_revoke"
    ),
]
