from django.urls import path

from kvportal.members import views

app_name = "members"

urlpatterns = [
    path("kv/betriebsstaetten/", views.practice_list, name="practice_list"),
    path("kv/betriebsstaetten/neu/", views.practice_create, name="practice_create"),
    path("kv/betriebsstaetten/<int:pk>/", views.practice_detail, name="practice_detail"),
    path("kv/betriebsstaetten/<int:pk>/bearbeiten/", views.practice_edit, name="practice_edit"),
    path("kv/personen/", views.person_list, name="person_list"),
    path("kv/personen/neu/", views.person_create, name="person_create"),
    path("kv/personen/<int:pk>/", views.person_detail, name="person_detail"),
    path("kv/personen/<int:pk>/bearbeiten/", views.person_edit, name="person_edit"),
    path(
        "kv/personen/<int:person_pk>/taetigkeiten/neu/",
        views.taetigkeit_create,
        name="taetigkeit_create",
    ),
    path("kv/taetigkeiten/<int:pk>/bearbeiten/", views.taetigkeit_edit, name="taetigkeit_edit"),
    path("kv/taetigkeiten/<int:pk>/beenden/", views.taetigkeit_end, name="taetigkeit_end"),
    path("kv/konten/<int:pk>/deaktivieren/", views.account_deactivate, name="account_deactivate"),
]
