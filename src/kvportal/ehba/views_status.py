"""eHBA set-up page (issue 14): a checklist (card reader, PIN letter and PIN set, signing agent
running – the browser asks the local agent's /status) and the status line of the card."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render

from kvportal.accounts.decorators import member_required
from kvportal.core.http import AuthenticatedHttpRequest
from kvportal.ehba import services
from kvportal.ehba.status import card_status


@member_required
def checklist(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(
        request,
        "ehba/checklist.html",
        {
            "status": card_status(request.user),
            "allowed": services.can_register(request.user),
            "agent_url": settings.EHBA_AGENT_URL.rstrip("/"),
        },
    )
