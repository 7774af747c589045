from django.urls import path

from kvportal.billing import api

app_name = "billing_api"

urlpatterns = [
    path("submissions/", api.submissions, name="submissions"),
    path("submissions/<int:pk>/", api.submission_detail, name="submission"),
    path("submissions/<int:pk>/protocol/", api.protocol, name="protocol"),
    path("submissions/<int:pk>/protocol.pdf", api.protocol_pdf, name="protocol_pdf"),
    path("submissions/<int:pk>/receipt.pdf", api.receipt_pdf, name="receipt_pdf"),
    path("test-runs/", api.test_runs, name="test_runs"),
    path("test-runs/<int:pk>/", api.test_run_detail, name="test_run"),
    path("deadlines/", api.deadlines, name="deadlines"),
]
