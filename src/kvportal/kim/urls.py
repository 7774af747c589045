from django.urls import path

from kvportal.kim import views, views_mailbox, views_staff

app_name = "kim"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("smcb/bestellen/<str:bsnr>/", views.smcb_order, name="smcb_order"),
    path("smcb/<int:pk>/freischalten/", views.smcb_activate, name="smcb_activate"),
    path("smcb/<int:pk>/entsperren/", views.smcb_unblock, name="smcb_unblock"),
    path("smcb/<int:pk>/karte.json", views.smcb_card_file, name="smcb_card_file"),
    path("konto/beantragen/", views.account_request, name="account_request_personal"),
    path("konto/beantragen/<str:bsnr>/", views.account_request, name="account_request"),
    path("konto/<int:pk>/", views.account_detail, name="account"),
    path("kollegensuche/", views.directory, name="directory"),
    path("veroeffentlichung/", views.publication, name="publication"),
    path("postfach/", views_mailbox.index, name="mailboxes"),
    path("postfach/<int:pk>/", views_mailbox.mailbox, name="mailbox"),
    path("postfach/<int:pk>/neu/", views_mailbox.compose, name="compose"),
    path("postfach/<int:pk>/zertifikate/", views_mailbox.certificates, name="certificates"),
    path("postfach/<int:pk>/senden/", views_mailbox.send, name="send"),
    path("postfach/<int:pk>/betreffsuche/", views_mailbox.subject_search, name="subject_search"),
    path("postfach/<int:pk>/<int:msg>/", views_mailbox.message_detail, name="message"),
    path(
        "postfach/<int:pk>/<int:msg>/nachricht.eml", views_mailbox.message_raw, name="message_raw"
    ),
    path(
        "postfach/<int:pk>/<int:msg>/loeschen/", views_mailbox.message_delete, name="message_delete"
    ),
    path("kv/smcb/", views_staff.smcb_orders, name="staff_smcb"),
    path("kv/smcb/<int:pk>/", views_staff.smcb_decide, name="staff_smcb_decide"),
    path("kv/konten/", views_staff.accounts, name="staff_accounts"),
    path("kv/konten/<int:pk>/", views_staff.account_decide, name="staff_account_decide"),
]
