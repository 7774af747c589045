from django.urls import path

from kvportal.arztbrief import views

app_name = "arztbrief"

urlpatterns = [
    path("", views.index, name="index"),
    path("schreiben/", views.write, name="write"),
    path("hochladen/", views.upload, name="upload"),
    path("signieren/", views.sign, name="sign"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/brief.pdf", views.letter_pdf, name="pdf"),
    path("<int:pk>/versand.json", views.send_data, name="send_data"),
    path("<int:pk>/versenden/", views.send, name="send"),
    path("eingang/", views.inbox, name="inbox"),
    path("eingang/<int:msg>/", views.received, name="received"),
    path("eingang/<int:msg>/bestaetigen/", views.confirm, name="confirm"),
    path("kv/", views.staff, name="staff"),
]
