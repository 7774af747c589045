# Security: mailboxes through selectors.mailboxes (right „KIM-Postfach der Praxis“ or owner);
# the server hands out and takes only ciphertext; the local agent decrypts and signs.
"""Web mailbox „Postfach“: folders, search by sender, read/reply/forward/compose via the agent."""

from __future__ import annotations

import base64
import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kvportal.accounts.decorators import member_required
from kvportal.core.http import AuthenticatedHttpRequest
from kvportal.kim import selectors, services_mailbox
from kvportal.kim.models import Folder, StoredMessage

PAGE_SIZE = 50


def agent_url() -> str:
    return str(settings.KIM_AGENT_URL).rstrip("/")


def _mailbox(request: HttpRequest, pk: int):
    return get_object_or_404(selectors.mailboxes(request.user), pk=pk)


def _message(request: HttpRequest, account, msg: int) -> StoredMessage:
    return get_object_or_404(selectors.messages_in(account), pk=msg)


@member_required
def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    boxes = list(selectors.mailboxes(request.user).order_by("address"))
    for box in boxes:
        services_mailbox.sync_from_store(account=box)
    if len(boxes) == 1:
        return redirect("kim:mailbox", pk=boxes[0].pk)
    unread = selectors.unread_counts(boxes)
    return render(
        request,
        "kim/mailbox_index.html",
        {"boxes": [{"account": b, "unread": unread.get(b.pk, 0)} for b in boxes]},
    )


@member_required
def mailbox(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    account = _mailbox(request, pk)
    services_mailbox.sync_from_store(account=account)
    folder = request.GET.get("ordner", Folder.INBOX)
    if folder not in Folder.values:
        folder = Folder.INBOX
    query = request.GET.get("suche", "").replace("\x00", "").strip()[:100]
    qs = selectors.search_messages(account, folder, query)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("seite"))
    unread = selectors.unread_counts([account]).get(account.pk, 0)
    return render(
        request,
        "kim/mailbox.html",
        {
            "account": account,
            "folder": folder,
            "folders": Folder.choices,
            "page": page,
            "query": query,
            "unread": unread,
            "agent_url": agent_url(),
        },
    )


#: subject search (issue 15): at most this many mails per search, each at most this large —
#: the agent decrypts each one whole (MAX_HEADER_MAILS in kim/agent_endpoints.py)
SUBJECT_SEARCH_LIMIT = 50
SUBJECT_SEARCH_MAX_SIZE = 500_000


@member_required
def subject_search(request: AuthenticatedHttpRequest, pk: int) -> JsonResponse:
    """Ciphertexts of the folder's newest mails (optionally narrowed by the server-side search)
    for the page, which lets the agent decrypt their headers and filters by subject itself:
    the search term never reaches the server."""
    account = _mailbox(request, pk)
    folder = request.GET.get("ordner", Folder.INBOX)
    if folder not in Folder.values:
        return JsonResponse(
            {"fehler": _("Unbekannter Ordner „%(ordner)s“.") % {"ordner": folder[:20]}},
            status=400,
        )
    query = request.GET.get("suche", "").replace("\x00", "").strip()[:100]
    rows, left_out = selectors.subject_search_candidates(
        account, folder, query, limit=SUBJECT_SEARCH_LIMIT, max_size=SUBJECT_SEARCH_MAX_SIZE
    )
    found = services_mailbox.ciphertexts_for_search(
        actor=request.user, account=account, messages=rows
    )
    response = JsonResponse(
        {
            "nachrichten": [
                {
                    "id": m.pk,
                    "url": reverse("kim:message", args=[account.pk, m.pk]),
                    "absender": m.sender,
                    "empfaenger": m.recipients,
                    "eingang": m.received_at.isoformat(),
                    "ungelesen": m.read_at is None,
                    "mail": base64.b64encode(raw).decode(),
                }
                for m, raw in found
            ],
            "ausgelassen": left_out,
        }
    )
    response["Cache-Control"] = "no-store"
    return response


@member_required
def message_detail(request: AuthenticatedHttpRequest, pk: int, msg: int) -> HttpResponse:
    account = _mailbox(request, pk)
    message = _message(request, account, msg)
    return render(
        request,
        "kim/message.html",
        {"account": account, "message": message, "agent_url": agent_url()},
    )


@member_required
def message_raw(request: AuthenticatedHttpRequest, pk: int, msg: int) -> HttpResponse:
    """The ciphertext (KOM-LE mail) for the agent; opening is logged and marks it read."""
    account = _mailbox(request, pk)
    message = _message(request, account, msg)
    raw = services_mailbox.open_message(actor=request.user, message=message)
    response = HttpResponse(raw, content_type="message/rfc822")
    response["Cache-Control"] = "no-store"
    return response


@member_required
@require_POST
def message_delete(request: AuthenticatedHttpRequest, pk: int, msg: int) -> HttpResponse:
    account = _mailbox(request, pk)
    message = _message(request, account, msg)
    folder = message.folder
    if request.POST.get("action") == "restore":
        services_mailbox.restore_message(actor=request.user, message=message)
        messages.success(request, _("Die Nachricht ist wiederhergestellt."))
    else:
        services_mailbox.delete_message(actor=request.user, message=message)
        messages.success(
            request,
            _("Die Nachricht ist endgültig gelöscht.")
            if folder == Folder.TRASH
            else _("Die Nachricht liegt jetzt im Ordner „Gelöscht“."),
        )
    return redirect(f"{reverse('kim:mailbox', args=[account.pk])}?ordner={folder}")


@member_required
def compose(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    account = _mailbox(request, pk)
    reply_to = forward = None
    if request.GET.get("antwort", "").isdigit():
        reply_to = _message(request, account, int(request.GET["antwort"]))
    if request.GET.get("weiterleiten", "").isdigit():
        forward = _message(request, account, int(request.GET["weiterleiten"]))
    to = request.GET.get("an", "").strip()
    if reply_to is not None:
        to = (
            reply_to.sender
            if reply_to.sender != account.address
            else ", ".join(reply_to.recipients)
        )
    return render(
        request,
        "kim/compose.html",
        {
            "account": account,
            "agent_url": agent_url(),
            "to": to[:1000],
            "reply_to": reply_to,
            "forward": forward,
        },
    )


@member_required
def certificates(request: AuthenticatedHttpRequest, pk: int) -> JsonResponse:
    """ENC certificates of the recipients from the directory, for the agent to encrypt."""
    _mailbox(request, pk)
    raw = request.GET.get("an", "").replace("\x00", "")
    addresses = [a.strip().lower()[:254] for a in raw.split(",") if a.strip()]
    if not addresses:
        return JsonResponse(
            {"fehler": _("Bitte geben Sie mindestens einen Empfänger an.")}, status=400
        )
    result, missing = {}, []
    for address in addresses[:50]:
        pem = selectors.valid_certificate(selectors.entry_for_address(address))
        if pem:
            result[address] = [pem]
        else:
            missing.append(address)
    if missing:
        return JsonResponse(
            {
                "fehler": _(
                    "Für diese Adressen gibt es im Verzeichnis kein gültiges "
                    "Verschlüsselungszertifikat: %(a)s"
                )
                % {"a": ", ".join(missing)},
                "feld": "to",
            },
            status=400,
        )
    return JsonResponse({"certificates": result})


@member_required
@require_POST
def send(request: AuthenticatedHttpRequest, pk: int) -> JsonResponse:
    """Takes the KOM-LE mail the agent built (base64 in JSON) and stores it."""
    account = _mailbox(request, pk)
    try:
        data = json.loads(request.body or b"{}")
        raw = base64.b64decode(str(data.get("mail", "")), validate=True)
    except ValueError:
        return JsonResponse(
            {"fehler": _("Die Nachricht vom KIM-Agenten ist unlesbar.")}, status=400
        )
    try:
        stored = services_mailbox.send(actor=request.user, account=account, raw=raw)
    except ValidationError as exc:
        return JsonResponse({"fehler": " ".join(exc.messages)}, status=400)
    except PermissionDenied as exc:
        return JsonResponse({"fehler": str(exc)}, status=403)
    messages.success(request, _("Die Nachricht ist verschlüsselt versendet."))
    return JsonResponse(
        {
            "ok": True,
            "id": stored[0].pk,
            "weiter": f"{reverse('kim:mailbox', args=[account.pk])}?ordner=sent",
        }
    )
