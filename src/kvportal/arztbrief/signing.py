# eArztbrief: the letter counts (GOP 86900) only with the author's own QES (eHBA); a signing
# batch holds up to 254 letters, signed with one PIN.QES entry (the card's EF.SSEC).
"""The signing batch as a signable of ehba's signing pages (registered in ready())."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kvportal.arztbrief import selectors, services
from kvportal.arztbrief.models import Arztbrief, Briefmappe, State
from kvportal.core.storage import private_storage
from kvportal.ehba import services as ehba

LABEL = "arztbrief.briefmappe"


def _open_letters(mappe: Briefmappe) -> list[Arztbrief]:
    return list(mappe.briefe.filter(state=State.ENTWURF).exclude(pdf_path="").order_by("pk"))


def documents(mappe: Briefmappe) -> list[ehba.SignableDocumentSpec]:
    def reader(letter: Arztbrief):
        def render() -> bytes:
            with private_storage.open(letter.pdf_path, "rb") as fh:
                return fh.read()

        return render

    return [
        ehba.SignableDocumentSpec(selectors.document_key(x), f"eArztbrief: {x.title}", reader(x))
        for x in mappe.briefe.exclude(pdf_path="").order_by("pk")
    ]


def signers(mappe: Briefmappe) -> list:
    person = mappe.author.person
    return [ehba.required_signer(person=person, label="Verfasser/in")] if person else []


def accepted(*, actor, application: Briefmappe, report) -> None:
    """A valid QES of the author on one letter makes it ready to send."""
    if report.verdict != "valid" or report.document is None:
        return
    letter = application.briefe.filter(pk=int(report.document.key.split("-")[1])).first()
    if letter is not None and letter.state == State.ENTWURF:
        services.mark_signed(actor=actor, letter=letter, report=report)


def register() -> None:
    ehba.register_signable(
        LABEL,
        ehba.Signable(
            label="eArztbriefe",
            documents=documents,
            required_signers=signers,
            queryset_for=selectors.mappen_for,
            on_accepted=accepted,
            detail_url=lambda mappe: reverse("arztbrief:index"),
            is_open=lambda mappe: bool(_open_letters(mappe)),
            link_text=_("Mit eHBA qualifiziert signieren (QES)"),
        ),
    )
