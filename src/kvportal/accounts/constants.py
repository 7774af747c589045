from django.db import models
from django.utils.translation import gettext_lazy as _


class Right(models.TextChoices):
    """The three portal rights of seed 000 (Zusatzblatt), per user and BSNR."""

    BILLING = "billing", _("Abgabe der Abrechnung")
    DOCS_BSNR = "docs_bsnr", _("Abruf von Dokumenten, BSNR-bezogen (alle Dokumente)")
    DOCS_LANR = "docs_lanr", _("Abruf von Dokumenten, arztbezogen (nur eigene LANR)")
    #: issue 15: read and send in the practice's KIM mailbox (granted on registration to the
    #: billing-right holders, who may delegate it)
    KIM_POSTFACH = "kim_postfach", _("KIM-Postfach der Praxis")


#: Rights a holder may pass on to Praxispersonal. Own-LANR documents are personal.
DELEGABLE_RIGHTS = frozenset({Right.BILLING, Right.DOCS_BSNR, Right.KIM_POSTFACH})


class AccountKind(models.TextChoices):
    MEMBER = "member", _("Mitglied/Praxis")
    PRAXISPERSONAL = "praxispersonal", _("Praxispersonal")
    STAFF = "staff", _("Mitarbeiter der KV")


class StaffRole(models.TextChoices):
    """KV back-office roles (Django groups of the same name)."""

    ARZTREGISTER = "Arztregister", _("Arztregister")
    ABRECHNUNG = "Abrechnung", _("Abrechnung")
    ZULASSUNG = "Zulassung", _("Geschäftsstelle Zulassungsausschuss")


class ApiScope(models.TextChoices):
    BILLING = "billing", _("Abrechnung einreichen")
    DOCUMENTS = "documents", _("Dokumente abrufen")
    DOCUMENTS_IMPORT = "documents_import", _("Dokumente einstellen (KV, Abrechnung)")
    KIM = "kim", _("KIM-Verzeichnis abfragen")
    KIM_ADMIN = "kim_admin", _("KIM-Verzeichnis pflegen (KV als Kartenherausgeber)")
    ARZTBRIEF = "arztbrief", _("eArztbrief-Nachweise melden (Clientmodul)")


#: Scopes for practice accounts; KV staff of the Abrechnung get only DOCUMENTS_IMPORT.
MEMBER_API_SCOPES = (ApiScope.BILLING, ApiScope.DOCUMENTS, ApiScope.KIM, ApiScope.ARZTBRIEF)
STAFF_API_SCOPES = {
    "Abrechnung": (ApiScope.DOCUMENTS_IMPORT,),
    "Arztregister": (ApiScope.KIM_ADMIN,),  # the card issuer's directory administration
}
