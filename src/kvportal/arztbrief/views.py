# Security: letters are personal (author only, selectors.letters_for); received letters through
# kim's mailbox selector; the server takes only KOM-LE ciphertext from the local agent and the
# receiver's SHA-256 of the decrypted PDF, never the received letter itself.
"""Pages of the eArztbrief: list, write, upload, sign (ehba batch), send, receive, staff view."""

from __future__ import annotations

import base64
import binascii
import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kvportal.accounts.constants import StaffRole
from kvportal.accounts.decorators import member_required, staff_role_required
from kvportal.arztbrief import letters, selectors, services
from kvportal.arztbrief.forms import BatchForm, UploadForm, WriteForm
from kvportal.arztbrief.models import State
from kvportal.arztbrief.signing import LABEL
from kvportal.core.quarters import Quarter
from kvportal.core.storage import private_storage


def _agent_url() -> str:
    return str(settings.KIM_AGENT_URL).rstrip("/")


def _letter(request: HttpRequest, pk: int):
    return get_object_or_404(selectors.letters_for(request.user), pk=pk)


@member_required
def index(request: HttpRequest) -> HttpResponse:
    letters_ = list(selectors.letters_for(request.user)[:200])
    drafts = [x for x in letters_ if x.state == State.ENTWURF and x.has_content]
    form = BatchForm(choices=[(x.pk, x.title) for x in drafts])
    return render(
        request,
        "arztbrief/index.html",
        {"letters": letters_, "drafts": drafts, "form": form, "batch_max": services.BATCH_MAX},
    )


def _create(request: HttpRequest, form_class, source: str) -> HttpResponse:
    mailboxes = list(selectors.sender_mailboxes(request.user))
    initial = {"recipient": request.GET.get("an", "")[:254]}
    form = form_class(
        request.POST or None, request.FILES or None, mailboxes=_qs(request), initial=initial
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            targets = [a for a, _pem in services.recipients_for(data["recipient"])]
            if source == "portal":
                practice = data["sender"].betriebsstaette
                pdf = letters.render_letter(
                    author=request.user.person,
                    practice=practice,
                    recipients=[
                        (a.betriebsstaette.name if a.betriebsstaette_id else "", a.address)
                        for a in targets
                    ],
                    data=data,
                )
            else:
                pdf = data["pdf"].read()
            cda = data["cda"].read() if data.get("cda") else None
            letter = services.create_letter(
                actor=request.user,
                sender=data["sender"],
                recipient_addresses=data["recipient"],
                title=data["title"],
                pdf=pdf,
                source=source,
                cda=cda,
                cda_name=data["cda"].name if data.get("cda") else "",
            )
        except ValidationError as exc:
            field = "recipient" if "Empfänger" in " ".join(exc.messages) else None
            for text in exc.messages:
                form.add_error(field, text)
        else:
            messages.success(request, _("Der Brief ist gespeichert. Bitte jetzt signieren."))
            return redirect("arztbrief:detail", pk=letter.pk)
    return render(
        request,
        "arztbrief/form.html",
        {"form": form, "source": source, "no_mailbox": not mailboxes},
    )


def _qs(request: HttpRequest):
    return selectors.sender_mailboxes(request.user)


@member_required
def write(request: HttpRequest) -> HttpResponse:
    return _create(request, WriteForm, "portal")


@member_required
def upload(request: HttpRequest) -> HttpResponse:
    return _create(request, UploadForm, "upload")


@member_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    letter = _letter(request, pk)
    return render(
        request,
        "arztbrief/detail.html",
        {
            "letter": letter,
            "agent_url": _agent_url(),
            "report": letter.report,
            "sign_url": reverse("ehba:sign", args=[LABEL, letter.mappe_id])
            if letter.mappe_id and letter.state == State.ENTWURF
            else "",
        },
    )


@member_required
def letter_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    letter = _letter(request, pk)
    if not letter.pdf_path:
        return render(request, "arztbrief/gone.html", status=410)
    return FileResponse(
        private_storage.open(letter.pdf_path, "rb"),
        content_type="application/pdf",
        filename=f"earztbrief-{letter.pk}.pdf",
    )


@member_required
@require_POST
def sign(request: HttpRequest) -> HttpResponse:
    own = {x.pk: x for x in selectors.letters_for(request.user).filter(state=State.ENTWURF)}
    form = BatchForm(request.POST, choices=[(pk, str(pk)) for pk in own])
    if not form.is_valid():
        messages.error(request, _("Bitte wählen Sie die zu signierenden Briefe aus."))
        return redirect("arztbrief:index")
    try:
        mappe = services.open_batch(
            actor=request.user, letters=[own[pk] for pk in form.cleaned_data["briefe"]]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("arztbrief:index")
    return redirect("ehba:sign", label=LABEL, pk=mappe.pk)


@member_required
def send_data(request: HttpRequest, pk: int) -> JsonResponse:
    """What the page hands to the KIM agent: the signed PDF, the CDA, the certificate."""
    letter = _letter(request, pk)
    if letter.state != State.SIGNIERT or not letter.has_content:
        return JsonResponse({"fehler": _("Der Brief ist nicht versandbereit.")}, status=400)
    addresses = [r.address for r in letter.empfaenger.all()]
    try:
        pems = {
            a: [pem]
            for a, (_account, pem) in zip(
                addresses, services.recipients_for(addresses), strict=True
            )
        }
    except ValidationError as exc:
        return JsonResponse({"fehler": " ".join(exc.messages)}, status=400)
    attachments = [
        {
            "name": f"earztbrief-{letter.pk}.pdf",
            "content_type": "application/pdf",
            "data": base64.b64encode(selectors.signed_pdf(letter)).decode(),
        }
    ]
    if letter.cda_path:
        with private_storage.open(letter.cda_path, "rb") as fh:
            attachments.append(
                {
                    "name": letter.cda_name,
                    "content_type": "application/xml",
                    "data": base64.b64encode(fh.read()).decode(),
                }
            )
    return JsonResponse(
        {
            "from": letter.sender.address,
            "to": addresses,
            "subject": _("eArztbrief"),
            "text": _("Anbei ein qualifiziert signierter eArztbrief."),
            "dienstkennung": services.DK_VERSAND,
            "certificates": pems,
            "attachments": attachments,
        }
    )


def _mail_from_body(request: HttpRequest, key: str = "mail") -> bytes | None:
    data = json.loads(request.body or b"{}")
    value = data.get(key)
    if value in (None, ""):
        return None
    return base64.b64decode(str(value), validate=True)


@member_required
@require_POST
def send(request: HttpRequest, pk: int) -> JsonResponse:
    letter = _letter(request, pk)
    try:
        raw = _mail_from_body(request)
    except (ValueError, binascii.Error):
        raw = None
    if not raw:
        return JsonResponse(
            {"fehler": _("Die Nachricht vom KIM-Agenten ist unlesbar.")}, status=400
        )
    try:
        services.record_sent(actor=request.user, letter=letter, raw=raw)
    except ValidationError as exc:
        return JsonResponse({"fehler": " ".join(exc.messages)}, status=400)
    except PermissionDenied as exc:
        return JsonResponse({"fehler": str(exc)}, status=403)
    messages.success(request, _("Der eArztbrief ist signiert und verschlüsselt versandt."))
    return JsonResponse({"ok": True, "weiter": reverse("arztbrief:detail", args=[letter.pk])})


@member_required
def inbox(request: HttpRequest) -> HttpResponse:
    items = list(selectors.received_messages(request.user)[:200])
    receipts = selectors.receipts_by_message(items)
    return render(
        request,
        "arztbrief/inbox.html",
        {"items": [{"message": m, "receipt": receipts.get(m.pk)} for m in items]},
    )


def _received(request: HttpRequest, msg: int):
    return get_object_or_404(selectors.received_messages(request.user), pk=msg)


@member_required
def received(request: HttpRequest, msg: int) -> HttpResponse:
    message = _received(request, msg)
    receipt = selectors.receipts_by_message([message]).get(message.pk)
    try:
        _account, sender_pem = services.recipient_for(message.sender)
    except ValidationError:
        sender_pem = ""
    return render(
        request,
        "arztbrief/received.html",
        {
            "message": message,
            "receipt": receipt,
            "agent_url": _agent_url(),
            "raw_url": reverse("kim:message_raw", args=[message.account_id, message.pk]),
            "dk_confirm": services.DK_BESTAETIGUNG,
            "sender_pem": sender_pem,
        },
    )


@member_required
@require_POST
def confirm(request: HttpRequest, msg: int) -> JsonResponse:
    message = _received(request, msg)
    existing = selectors.receipts_by_message([message]).get(message.pk)
    if existing is not None:  # opened again: the report, no second confirmation
        return JsonResponse({"ok": True, "bericht": selectors.receipt_report(existing)})
    try:
        data = json.loads(request.body or b"{}")
        raw = _mail_from_body(request, "bestaetigung")
    except (ValueError, binascii.Error):
        return JsonResponse({"fehler": _("Die Anfrage ist unlesbar.")}, status=400)
    try:
        receipt = services.confirm_receipt(
            actor=request.user,
            message=message,
            sha256=str(data.get("sha256") or ""),
            confirmation=raw,
        )
    except ValidationError as exc:
        return JsonResponse({"fehler": " ".join(exc.messages)}, status=400)
    return JsonResponse({"ok": True, "bericht": selectors.receipt_report(receipt)})


@staff_role_required(StaffRole.ABRECHNUNG)
def staff(request: HttpRequest) -> HttpResponse:
    current = Quarter.of(timezone.localdate())
    try:
        quarter = Quarter.parse(request.GET["quartal"]) if request.GET.get("quartal") else current
    except ValueError:
        quarter = current
        messages.error(request, _("Quartal: bitte in der Form JJJJ-Q angeben, z. B. 2026-4."))
    return render(
        request,
        "arztbrief/staff.html",
        {
            "quarter": quarter,
            "rows": selectors.all_counts(quarter),
            "previous": quarter.previous(),
            "next": quarter.next(),
        },
    )
