# Seed 000: documents only within the user's rights (404 otherwise); every view and
# download is written to the access log; files stream from private storage.
"""Member pages "Dokumente" and the staff pages of the Abrechnung."""

from __future__ import annotations

import functools
from decimal import Decimal

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import floatformat
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from kvportal import audit
from kvportal.accounts import scope
from kvportal.accounts.constants import Right, StaffRole
from kvportal.accounts.decorators import member_required, staff_role_required
from kvportal.audit.models import Activity
from kvportal.core.quarters import Quarter
from kvportal.documents import rules, selectors, services
from kvportal.documents.chart import Bar, render_bar_chart
from kvportal.documents.forms import FilterForm, ImportForm, UploadForm
from kvportal.documents.models import DocType, Source

PAGE_SIZE = 25


@member_required
def document_list(request):
    user = request.user
    practices = list(selectors.document_practices(user))
    form = FilterForm(
        request.GET or None, practices=practices, quarters=selectors.available_quarters(user)
    )
    filters = {}
    if form.is_bound and form.is_valid():
        filters = {
            "bsnr": form.cleaned_data["bsnr"],
            "quarter": form.cleaned_quarter(),
            "doc_type": form.cleaned_data["typ"],
            "text": form.cleaned_data["suche"],
        }
    sort = request.GET.get("sortierung", "quartal")
    sort = sort if sort in selectors.SORTS else "quartal"
    documents = selectors.order_documents(selectors.search_documents(user, **filters), sort)
    page = Paginator(documents, PAGE_SIZE).get_page(request.GET.get("seite"))
    # labels straight from the choices (issue 13, request-path CPU; see docs/architecture.md)
    type_labels = {value: str(label) for value, label in DocType.choices}
    for document in page.object_list:
        document.type_label = type_labels.get(document.doc_type, document.doc_type)
    audit.record(
        actor=user,
        activity=Activity.VIEW,
        object_type="documents.list",
        object_repr=_("Dokumentenliste"),
        detail={k: str(v) for k, v in filters.items() if v},
    )
    return render(
        request,
        "documents/list.html",
        {
            "form": form,
            "page": page,
            "practices": practices,
            "tombstones": selectors.visible_tombstones(user).select_related("betriebsstaette")[:20],
            "sort": sort,
            "sorts": selectors.SORTS,
        },
    )


@member_required
def document_detail(request, pk: int):
    document = get_object_or_404(
        selectors.visible_documents(request.user).select_related("betriebsstaette", "person"),
        pk=pk,
    )
    services.record_view(actor=request.user, document=document)
    show_receipts = selectors.may_see_receipts(request.user, document)
    return render(
        request,
        "documents/detail.html",
        {
            "document": document,
            "show_receipts": show_receipts,
            "receipts": selectors.receipts_for(document) if show_receipts else [],
            "is_bescheid": document.doc_type in rules.BESCHEID_TYPES,
            "widerspruch_until": rules.widerspruch_deadline(document.delivery_date)
            if document.delivery_date and document.doc_type in rules.BESCHEID_TYPES
            else None,
        },
    )


def stream_document(document) -> FileResponse:
    try:
        handle = document.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404(_("Die Datei ist nicht mehr vorhanden.")) from exc
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=document.download_name,
        content_type="application/pdf",
    )
    response["Cache-Control"] = "private, no-store"
    return response


@member_required
def document_download(request, pk: int):
    document = get_object_or_404(
        selectors.visible_documents(request.user).select_related("betriebsstaette"), pk=pk
    )
    response = stream_document(document)
    services.mark_opened(actor=request.user, document=document, via="web")
    return response


# --------------------------------------------------------------------------- staff


@staff_role_required(StaffRole.ABRECHNUNG)
def staff_upload(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            document = services.publish_document(
                actor=request.user,
                betriebsstaette=form.practice,
                quarter=data["quartal"],
                doc_type=data["typ"],
                title=data["titel"],
                content=data["datei"].read(),
                lanr=data["lanr"] or None,
                also_by_post=data["auch_per_post"],
                amount=data["betrag"],
                source=Source.UPLOAD,
            )
        except services.DocumentError as exc:
            target = {
                "file": "datei",
                "lanr": "lanr",
                "quarter": "quartal",
                "title": "titel",
                "doc_type": "typ",
            }
            form.add_error(target.get(exc.field or ""), str(exc))
        else:
            messages.success(
                request,
                _("Das Dokument „%(title)s“ für BSNR %(bsnr)s ist veröffentlicht.")
                % {"title": document.title, "bsnr": document.bsnr},
            )
            return redirect("documents:staff_upload")
    return render(request, "documents/staff_upload.html", {"form": form})


@staff_role_required(StaffRole.ABRECHNUNG)
def staff_import(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        manifest = form.cleaned_data["manifest"]
        files = {f.name: f for f in form.cleaned_data["dateien"]}
        report = services.import_manifest(
            actor=request.user,
            manifest=manifest.read(),
            manifest_name=manifest.name,
            open_file=uploaded_file_opener(files),
            source=Source.IMPORT,
        )
    return render(request, "documents/staff_import.html", {"form": form, "report": report})


def uploaded_file_opener(files):
    """Manifest names are matched on the file name (browsers send no folders)."""

    def open_file(name: str):
        upload = files.get(name.rsplit("/", 1)[-1])
        if upload is None:
            return None
        upload.seek(0)
        return upload.read()

    return open_file


# --------------------------------------------------------------------------- start page


def panel_context(request):
    """Start-page card: unread documents; Honorar chart for holders of the BSNR-wide right."""
    user = request.user
    if not selectors.document_practice_ids(user):
        return None
    current = Quarter.of(timezone.localdate())
    charts = []
    practices = list(scope.practices(user, Right.DOCS_BSNR))
    data = selectors.honorar_charts(practices, current)
    for practice in practices:
        quarters, series = data[practice.pk]
        if not series:
            continue
        bars = tuple(Bar(str(q), series.get(q)) for q in quarters)
        title = _("Honorar der letzten acht Quartale, BSNR %(bsnr)s") % {"bsnr": practice.bsnr}
        language = get_language()
        charts.append(
            {
                "practice": practice,
                "title": title,
                "svg": mark_safe(_chart_svg(bars, title)),  # noqa: S308 - escaped
                "rows": [
                    {
                        "label": bar.label,
                        "amount": bar.amount,
                        "text": _amount_text(bar.amount, language),
                    }
                    for bar in bars
                ],
            }
        )
    return {"unread": selectors.unread_count(user), "charts": charts}


# issue 13 (request-path CPU): a Träger's start page draws one chart per BSNR (20 × ~150 µs)
# and formats eight amounts each (~20 µs per `floatformat`); both are pure functions of their
# arguments, so a process-wide memo returns the same markup for the same figures.
@functools.lru_cache(maxsize=1024)
def _chart_svg(bars: tuple[Bar, ...], title: str) -> str:
    return render_bar_chart(list(bars), title=title)


@functools.lru_cache(maxsize=4096)
def _amount_text(amount: Decimal | None, language: str | None) -> str:
    """`amount|floatformat:"2g"` (the language is part of the key: it decides the notation)."""
    return "" if amount is None else floatformat(amount, "2g")
