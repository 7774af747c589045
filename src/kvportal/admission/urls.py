from django.urls import path

from kvportal.admission import views

app_name = "admission"

urlpatterns = [
    path("", views.application_list, name="list"),
    path("neu/", views.new, name="new"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/bearbeiten/", views.edit, name="edit"),
    path("<int:pk>/pruefen/", views.review, name="review"),
    path("<int:pk>/bestaetigen/", views.confirm, name="confirm"),
    path("<int:pk>/zuruecknehmen/", views.withdraw, name="withdraw"),
    path("<int:pk>/zurueckholen/", views.reopen, name="reopen"),
    path("<int:pk>/loeschen/", views.delete, name="delete"),
    path("<int:pk>/antwort/", views.answer, name="answer"),
    path("<int:pk>/datei/<str:kind>.pdf", views.file, name="file"),
    path("<int:pk>/anlage/<int:attachment_pk>/", views.attachment, name="attachment"),
    path("bestaetigung/<str:token>/", views.confirm_code, name="confirm_code"),
    path("bestaetigung/<str:token>/antrag.pdf", views.confirm_code_pdf, name="confirm_code_pdf"),
    # Geschäftsstelle (role Zulassung)
    path("kv/", views.staff_inbox, name="staff_inbox"),
    path("kv/antrag/<int:pk>/", views.staff_detail, name="staff_detail"),
    path("kv/antrag/<int:pk>/<str:action>/", views.staff_action, name="staff_action"),
    path("kv/antrag/<int:pk>/datei/<str:kind>.pdf", views.staff_file, name="staff_file"),
    path(
        "kv/antrag/<int:pk>/anlage/<int:attachment_pk>/",
        views.staff_attachment,
        name="staff_attachment",
    ),
    path("kv/sitzungen/", views.sessions, name="sessions"),
    path("kv/sitzungen/<int:pk>/", views.session_detail, name="session_detail"),
    path("kv/sitzungen/<int:pk>/loeschen/", views.session_delete, name="session_delete"),
    path("kv/sitzungen/<int:pk>/tagesordnung.pdf", views.agenda, name="agenda"),
]
