from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _sees_documents(user) -> bool:
    from kvportal.documents.selectors import document_practice_ids

    return bool(document_practice_ids(user))


def _is_abrechnung(user) -> bool:
    from kvportal.accounts import scope
    from kvportal.accounts.constants import StaffRole

    return scope.is_staff_role(user, StaffRole.ABRECHNUNG)


class DocumentsConfig(AppConfig):
    name = "kvportal.documents"
    label = "documents"
    verbose_name = _("Dokumente")

    def ready(self) -> None:
        from kvportal.core.registry import (
            NavItem,
            Panel,
            register_api_paths,
            register_demo,
            register_nav,
            register_panel,
            register_purger,
        )
        from kvportal.documents import api, demo, services, views

        register_nav(
            NavItem(_("Dokumente"), "documents:list", "member", order=30, visible=_sees_documents)
        )
        register_nav(
            NavItem(
                _("Dokumente einstellen"),
                "documents:staff_import",
                "staff",
                order=30,
                visible=_is_abrechnung,
            )
        )
        register_panel(Panel("documents/_panel.html", views.panel_context, order=30))
        register_purger("documents", services.purge_expired_documents)
        register_demo(30, demo.seed_demo_documents)
        register_api_paths(api.OPENAPI_PATHS)
        from kvportal.core.registry import register_tasks
        from kvportal.documents import todo

        register_tasks(todo.tasks)
