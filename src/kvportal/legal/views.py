"""The footer pages (public, also reachable during a pending first password change)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from kvportal.legal import services
from kvportal.legal.forms import FeedbackForm
from kvportal.legal.pages import BY_SLUG

FEEDBACK_PER_HOUR = 5


def _context(slug: str, **extra: Any) -> dict[str, Any]:
    return {
        "page": BY_SLUG[slug],
        "feedback_address": services.feedback_address(),
        **extra,
    }


def legal_page(request: HttpRequest, slug: str) -> HttpResponse:
    return render(
        request, "legal/page.html", _context(slug, text_template=f"legal/texte/{slug}.html")
    )


def _client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


@require_http_methods(["GET", "POST"])
def feedback(request: HttpRequest) -> HttpResponse:
    """Feedback route of the Erklärung zur Barrierefreiheit: form → stored + mail."""
    origin = request.GET.get("seite", "")
    if not url_has_allowed_host_and_scheme(origin, allowed_hosts={request.get_host()}):
        origin = ""
    form = FeedbackForm(request.POST or None, initial={"page": origin})
    if request.method == "POST" and form.is_valid():
        key = f"legal-feedback-ip:{_client_ip(request)}"
        if cache.get(key, 0) >= FEEDBACK_PER_HOUR:
            form.add_error(
                None,
                _(
                    "Von Ihrem Anschluss sind in der letzten Stunde schon mehrere Rückmeldungen "
                    "eingegangen. Bitte schreiben Sie uns direkt an %(mail)s – Ihr Text steht "
                    "unten noch zum Kopieren bereit."
                )
                % {"mail": services.feedback_address()},
            )
        else:
            if not cache.add(key, 1, 3600):
                cache.incr(key)
            user = request.user if request.user.is_authenticated else None
            services.submit_feedback(
                actor=user,
                message=form.cleaned_data["message"],
                page=form.cleaned_data["page"],
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
            )
            messages.success(request, _("Vielen Dank, Ihre Rückmeldung ist bei uns eingegangen."))
            return redirect("legal:feedback_done")
    return render(request, "legal/feedback.html", _context("barrierefreiheit", form=form))


def feedback_done(request: HttpRequest) -> HttpResponse:
    return render(request, "legal/feedback_done.html", _context("barrierefreiheit"))
