from django.urls import path

from kvportal.documents import views

app_name = "documents"

urlpatterns = [
    path("", views.document_list, name="list"),
    path("<int:pk>/", views.document_detail, name="detail"),
    path("<int:pk>/download/", views.document_download, name="download"),
    path("kv/hochladen/", views.staff_upload, name="staff_upload"),
    path("kv/import/", views.staff_import, name="staff_import"),
]
