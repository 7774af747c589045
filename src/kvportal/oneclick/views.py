"""Member pages of the eSE: produce it for an accepted submission, download its XML."""

from __future__ import annotations

from django.contrib import messages as flash
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from kvportal.accounts.decorators import member_required
from kvportal.billing import selectors as billing_selectors
from kvportal.oneclick import ese_services, selectors


@member_required
@require_POST
def ese_create(request, pk: int):
    submission = billing_selectors.get_submission(request.user, pk)
    try:
        obj = ese_services.create(actor=request.user, submission=submission)
    except ese_services.EseRefused as refused:
        for text in refused.texts:
            flash.error(request, text)
        return redirect("billing:detail", pk=submission.pk)
    return redirect(reverse("ehba:sign", args=[ese_services.LABEL, obj.pk]))


@member_required
def ese_xml(request, pk: int):
    obj = get_object_or_404(selectors.sammelerklaerungen(request.user), pk=pk)
    data = ese_services.download_xml(actor=request.user, obj=obj)
    response = HttpResponse(data, content_type="application/xml; charset=ISO-8859-15")
    response["Content-Disposition"] = f'attachment; filename="{obj.filename}"'
    return response
