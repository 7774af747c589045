from django.urls import path

from kvportal.documents import api

app_name = "documents_api"

urlpatterns = [
    path("", api.list_documents, name="list"),
    path("import", api.import_documents, name="import"),
    path("<int:pk>", api.document_detail, name="detail"),
    path("<int:pk>/download", api.document_download, name="download"),
]
