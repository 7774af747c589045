from django.urls import path

from kvportal.documents import views, views_zip

app_name = "documents"

urlpatterns = [
    path("", views.document_list, name="list"),
    path("<int:pk>/", views.document_detail, name="detail"),
    path("<int:pk>/download/", views.document_download, name="download"),
    path("quartal/<str:quarter>/zip/", views_zip.quarter_zip, name="quarter_zip"),
    path("kv/hochladen/", views.staff_upload, name="staff_upload"),
    path("kv/import/", views.staff_import, name="staff_import"),
]
