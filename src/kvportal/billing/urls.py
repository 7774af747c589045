from django.urls import path

from kvportal.billing import staff_views, views

app_name = "billing"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("einreichen/", views.submit, name="submit"),
    path("einreichung/<int:pk>/", views.detail, name="detail"),
    path("einreichung/<int:pk>/status/", views.status, name="status"),
    path("einreichung/<int:pk>/protokoll.pdf", views.protocol_pdf, name="protocol_pdf"),
    path("einreichung/<int:pk>/empfangsbestaetigung.pdf", views.receipt_pdf, name="receipt_pdf"),
    path("testabrechnung/", views.test_runs, name="test_runs"),
    path("testabrechnung/<int:pk>/", views.test_run_detail, name="test_run_detail"),
    path("erklaerung/<str:bsnr>/<str:quarter>/", views.declare, name="declare"),
    path(
        "erklaerung/<str:bsnr>/<str:quarter>/bestaetigung.pdf",
        views.declaration_pdf,
        name="declaration_pdf",
    ),
    # KV staff (role Abrechnung)
    path("kv/", views.staff_list, name="staff_list"),
    path("kv/einreichung/<int:pk>/", views.staff_detail, name="staff_detail"),
    path("kv/einreichung/<int:pk>/erneut-pruefen/", views.staff_recheck, name="staff_recheck"),
    path("kv/einreichung/<int:pk>/datei/", views.staff_download, name="staff_download"),
    path(
        "kv/einreichung/<int:pk>/protokoll.pdf",
        views.staff_protocol_pdf,
        name="staff_protocol_pdf",
    ),
    path(
        "kv/einreichung/<int:pk>/empfangsbestaetigung.pdf",
        views.staff_receipt_pdf,
        name="staff_receipt_pdf",
    ),
    path("kv/fristen/", views.deadlines, name="deadlines"),
    path("kv/fehlende-abgaben/", staff_views.missing, name="missing"),
    path("kv/fristen/<str:quarter>/", views.deadline_edit, name="deadline_edit"),
]
