"""Demo part of `kvportal demo`: committee sessions for the coming months and applications
in different states (synthetic data only)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from kvportal.admission import services
from kvportal.admission.models import Application, CommitteeSession
from kvportal.admission.rules.dates import first_of_next_month
from kvportal.admission.rules.definitions import BEZIRKE, COMMITTEES

if TYPE_CHECKING:
    from kvportal.accounts.models import User
    from kvportal.members.models import Betriebsstaette, Person


def _pdf(title: str) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _third_wednesday(year: int, month: int) -> dt.date:
    day = dt.date(year, month, 1)
    day += dt.timedelta(days=(2 - day.weekday()) % 7)
    return day + dt.timedelta(weeks=2)


def seed_sessions(months: int = 6) -> int:
    today = timezone.localdate()
    month = dt.date(today.year, today.month, 1)
    created = 0
    for _ in range(months):
        for bezirk, _label in BEZIRKE:
            for offset, (committee, _c) in enumerate(COMMITTEES):
                date = _third_wednesday(month.year, month.month) + dt.timedelta(days=offset)
                if date <= today:
                    continue
                _, new = CommitteeSession.objects.get_or_create(
                    bezirk=bezirk, committee=committee, date=date,
                    defaults={"location": f"Bezirksstelle {_label}"},
                )  # fmt: skip
                created += new
        month = first_of_next_month(month)
    return created


def _draft(
    actor: User,
    practice: Betriebsstaette,
    employee: Person | None,
    type_code: str,
    **values: object,
) -> Application:
    application = services.create_draft(
        actor=actor, type_code=type_code, betriebsstaette=practice, employee=employee
    )
    data = dict(application.data)
    data.update(values)
    application = services.save_draft(actor=actor, application=application, data=data)
    earliest = services.check(application).computed.get("earliest_date")
    if earliest:
        data["effective_date"] = earliest.isoformat()
        application = services.save_draft(actor=actor, application=application, data=data)
    services.add_attachment(
        actor=actor, application=application, kind="arbeitsvertrag",
        file_name="arbeitsvertrag.pdf", content=_pdf("Arbeitsvertrag (Demo)"),
    )  # fmt: skip
    return application


def seed(world: dict[str, Any], out: Callable[[str], object]) -> None:
    created = seed_sessions()
    users, persons, mvz = world["users"], world["persons"], world["mvz"]
    leiterin = users["leiterin"]
    staff = world["staff"].get("Zulassung")
    common = {"phone": "0351 000000", "hours_unit": "woche", "related": "nein"}

    # 1. waiting for the employee's confirmation (log in as schmidt.l to confirm)
    schmidt = _draft(
        leiterin, mvz, persons["schmidt"], "erhoehung_arzt",
        factor_to="0.75", hours="25", mode="nachbesetzung",
        nachbesetzung_name="Dr. med. Klaus Vorgänger", **common,
    )  # fmt: skip
    services.submit(actor=leiterin, application=schmidt, token=str(schmidt.submission_token))

    # 2. fee paid and scheduled (open Planungsbereich, with Anlage 1)
    today = timezone.localdate()
    rows = [
        {"start": "2012-10-01", "end": "2019-12-31", "kind": "Assistenzarzt",
         "institution": "Städtisches Klinikum Dresden", "weekly_hours": "40",
         "evidence": "arztregister"},
        {"start": "2020-01-01", "end": "", "kind": "angestellter Arzt",
         "institution": "MVZ Elbtal Dresden", "weekly_hours": "25", "evidence": "arztregister"},
    ]  # fmt: skip
    fischer = _draft(
        leiterin, mvz, persons["fischer"], "erhoehung_arzt",
        factor_to="1.0", hours="38", mode="planungsbereich",
        planungsbereich="Dresden, Stadt", anlage1=rows, anlage1_waitlist="nein", **common,
    )  # fmt: skip
    fischer = services.submit(
        actor=leiterin, application=fischer, token=str(fischer.submission_token)
    )
    for signatory in fischer.signatories.all():
        if signatory.confirmation is None and signatory.user_id:
            services.confirm(actor=signatory.user, signatory=signatory)
    fischer.refresh_from_db()
    if staff is not None and fischer.state == "vollstaendig":
        services.request_fee(
            actor=staff, application=fischer, deadline=today + dt.timedelta(weeks=3)
        )
        services.book_payment(actor=staff, application=fischer, paid_on=today, reference="DEMO-1")
        slot = services.check(fischer, drafting=False).computed.get("earliest_session")
        session = slot.ref if slot else None
        if session:
            services.schedule(actor=staff, application=fischer, session=session)

    # 3. a draft of the psychotherapist type
    _draft(
        leiterin, mvz, persons["keller"], "erhoehung_psychotherapeut",
        factor_to="0.75", hours="22", mode="nachbesetzung",
        nachbesetzung_name="Dipl.-Psych. Eva Früher", **common,
    )  # fmt: skip
    out(f"Zulassung: {created} Sitzungen, 3 Anträge (Entwurf, Bestätigung offen, terminiert).")
