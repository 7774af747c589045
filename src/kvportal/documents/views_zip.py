# Seed 000: only documents within the user's rights go into the ZIP; each one is logged as a
# download (read receipt + access log) like a single download.
"""ZIP of all documents of one quarter (issue 14 "Documents")."""

from __future__ import annotations

import io
import zipfile

from django.http import Http404, HttpResponse

from kvportal.accounts.decorators import member_required
from kvportal.core.quarters import Quarter
from kvportal.documents import selectors, services


@member_required
def quarter_zip(request, quarter: str):
    try:
        parsed = Quarter.parse(quarter)
    except ValueError as exc:
        raise Http404 from exc
    bsnr = request.GET.get("bsnr", "")
    documents = list(selectors.quarter_documents(request.user, parsed, bsnr=bsnr))
    if not documents:
        raise Http404
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for document in documents:
            with document.file.open("rb") as handle:
                archive.writestr(document.download_name, handle.read())
            services.mark_opened(actor=request.user, document=document, via="zip")
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    suffix = f"_{bsnr}" if bsnr else ""
    response["Content-Disposition"] = f'attachment; filename="dokumente_{parsed.slug}{suffix}.zip"'
    return response
