from django.urls import path

from kvportal.legal import views
from kvportal.legal.pages import PAGES

app_name = "legal"

urlpatterns = [
    *(path(page.path, views.legal_page, {"slug": page.slug}, name=page.slug) for page in PAGES),
    path("barrierefreiheit/rueckmeldung/", views.feedback, name="feedback"),
    path("barrierefreiheit/rueckmeldung/danke/", views.feedback_done, name="feedback_done"),
]
