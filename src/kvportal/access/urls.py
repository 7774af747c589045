from django.urls import path

from kvportal.access import views

app_name = "access"

urlpatterns = [
    path("beantragen/", views.apply, name="apply"),
    path("entwurf/<str:token>/", views.resume, name="resume"),
    path("antrag/<str:reference>/bearbeiten/", views.edit, name="edit"),
    path("antrag/<str:reference>/pruefen/", views.review, name="review"),
    path("antrag/<str:reference>/", views.status, name="status"),
    path("antrag/<str:reference>/aktion/", views.status_action, name="status_action"),
    path("antrag/<str:reference>/pdf/", views.application_pdf_view, name="pdf"),
    path("bestaetigen/<str:token>/", views.confirm, name="confirm"),
    path("meine-antraege/", views.my_applications, name="my_applications"),
    path("kv/antraege/", views.staff_queue, name="staff_queue"),
    path("kv/antraege/<int:pk>/", views.staff_detail, name="staff_detail"),
    path("kv/antraege/<int:pk>/entscheiden/", views.staff_decide, name="staff_decide"),
    path("kv/antraege/<int:pk>/ablehnen/", views.staff_refuse, name="staff_refuse"),
    path("kv/antraege/<int:pk>/pdf/", views.staff_application_pdf, name="staff_pdf"),
    path("kv/zugangsschreiben/", views.staff_letters, name="staff_letters"),
    path("kv/zugangsschreiben/sammeldruck/", views.staff_letters_batch, name="staff_letters_batch"),
    path("kv/zugangsschreiben/neu/", views.staff_reissue, name="staff_reissue"),
    path("kv/zugangsschreiben/<int:pk>/drucken/", views.staff_letter_pdf, name="staff_letter_pdf"),
]
