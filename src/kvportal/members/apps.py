from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "kvportal.members"
    label = "members"
    verbose_name = "Arztregister"
