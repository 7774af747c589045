"""Services: drafts, prefill, submission, confirmations, office workflow, registry update."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kvportal.admission import services
from kvportal.admission.models import Application, Confirmation, GeneratedFile
from kvportal.audit.models import AccessLogEntry
from kvportal.core.pdf import pdf_text as _pdf_text
from kvportal.core.storage import private_storage
from kvportal.members.models import Taetigkeit
from tests.admission.conftest import pdf_bytes

pytestmark = pytest.mark.django_db


def pdf_text(content: bytes) -> str:
    """Extracted text with whitespace (line breaks) collapsed."""
    return " ".join(_pdf_text(content).split())


def test_prefill_from_registry(world):
    application = services.create_draft(
        actor=world.leiterin,
        type_code="erhoehung_arzt",
        betriebsstaette=world.mvz,
        employee=world.employee,
    )
    data = application.data
    assert data["bsnr"] == "951234500"
    assert data["applicant_kind"] == "mvz"
    assert data["bezirk"] == "dresden"
    assert data["employee_lanr"] == world.employee.lanr
    assert data["employee_name"] == "Erika Beispiel"
    assert data["factor_from"] == "0.5"
    assert data["representative_name"] == world.leiterin.person.full_name
    assert application.state == "entwurf"
    assert AccessLogEntry.objects.filter(activity="create", bsnr="951234500").exists()


def test_check_of_complete_draft(draft):
    result = services.check(draft)
    assert result.errors == {}
    assert result.computed["earliest_session"].date == dt.date(2027, 1, 13)
    assert result.fees.application_fee == Decimal("60.00")


def test_registered_factor_mismatch_is_an_error(draft, world):
    world.work.anrechnungsfaktor = Decimal("0.25")
    world.work.save()
    data = dict(draft.data, factor_from="0.5")
    draft = services.save_draft(actor=world.leiterin, application=draft, data=data)
    assert "Laut Arztregister" in services.check(draft).errors["factor_from"][0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "leer"),
        (b"GIF89a....", "keine PDF-Datei"),
        (b"%PDF-1.7\nkaputt", "beschädigt"),
    ],
)
def test_attachment_must_be_pdf(draft, world, content, message):
    with pytest.raises(services.AdmissionError, match=message):
        services.add_attachment(
            actor=world.leiterin,
            application=draft,
            kind="arbeitsvertrag",
            file_name="x.pdf",
            content=content,
        )


def test_attachment_size_limit(draft, world, settings):
    settings.ADMISSION_MAX_ATTACHMENT_MB = 0
    with pytest.raises(services.AdmissionError, match="höchstens 0 MB"):
        services.add_attachment(
            actor=world.leiterin,
            application=draft,
            kind="arbeitsvertrag",
            file_name="x.pdf",
            content=pdf_bytes(),
        )


def test_attachment_replaces_same_kind_in_draft(draft, world):
    services.add_attachment(
        actor=world.leiterin,
        application=draft,
        kind="arbeitsvertrag",
        file_name="neu.pdf",
        content=pdf_bytes("neu"),
    )
    assert list(draft.attachments.values_list("file_name", flat=True)) == ["neu.pdf"]


def submit(draft, world):
    return services.submit(
        actor=world.leiterin, application=draft, token=str(draft.submission_token)
    )


def test_submit_is_idempotent_and_creates_signatories_and_pdf(
    draft, world, mailoutbox, django_capture_on_commit_callbacks, real_pdf
):
    with django_capture_on_commit_callbacks(execute=True):
        application = submit(draft, world)
    again = submit(application, world)
    assert again.pk == application.pk
    assert Application.objects.count() == 1
    assert application.state == "eingereicht"
    names = [(s.name, s.role_label) for s in application.signatories.all()]
    assert names == [
        (world.leiterin.person.full_name, "Vertretungsberechtigte(r)"),
        ("Dr. med. Erika Beispiel", "Angestellte(r)"),
    ]
    rep, emp = application.signatories.all()
    assert rep.confirmation.method == "portal"  # submitting = confirming
    assert emp.confirmation is None and emp.user == world.employee_user
    assert [m.to for m in mailoutbox] == [["erika@example.org"]]
    copy = application.files.get(kind="antrag")
    text = pdf_text(private_storage.open(copy.path).read())
    assert "Antrag auf Erhöhung des Anrechnungsfaktors eines angestellten Arztes" in text
    assert "951234500" in text and "von 0,5 auf 0,75" in text and "01.02.2027" in text
    assert "Antragsgebühr 60,00 €" in text
    assert not application.files.filter(kind="anlage1").exists()


def test_incomplete_draft_cannot_be_submitted(draft, world):
    draft.attachments.all().delete()
    with pytest.raises(services.SubmissionRefused) as info:
        submit(draft, world)
    assert "attachment.arbeitsvertrag" in info.value.result.errors
    assert Application.objects.get(pk=draft.pk).state == "entwurf"


def test_stale_token_is_refused(draft, world):
    with pytest.raises(services.AdmissionError, match="veraltet"):
        services.submit(actor=world.leiterin, application=draft, token="x")


def test_second_pending_application_for_same_change_is_refused(draft, world):
    first = submit(draft, world)
    second = services.create_draft(
        actor=world.leiterin,
        type_code="erhoehung_arzt",
        betriebsstaette=world.mvz,
        employee=world.employee,
    )
    second = services.save_draft(actor=world.leiterin, application=second, data=dict(first.data))
    services.add_attachment(
        actor=world.leiterin,
        application=second,
        kind="arbeitsvertrag",
        file_name="v.pdf",
        content=pdf_bytes(),
    )
    with pytest.raises(services.DuplicateApplication) as info:
        submit(second, world)
    assert first.reference in str(info.value)
    # after withdrawal, a new application is possible
    services.withdraw(actor=world.leiterin, application=first)
    assert submit(second, world).state == "eingereicht"


def confirm_employee(application, world):
    emp = application.signatories.get(roles=["angestellter"])
    return services.confirm(actor=world.employee_user, signatory=emp)


def test_all_confirmations_make_the_application_received(draft, world):
    application = submit(draft, world)
    with pytest.raises(services.AdmissionError, match="nicht als Unterzeichner"):
        services.confirm(actor=world.leiterin, signatory=application.signatories.last())
    confirmation = confirm_employee(application, world)
    assert confirmation.content_sha256 == application.content_sha256
    application.refresh_from_db()
    assert application.state == "vollstaendig" and application.received_at is not None
    assert AccessLogEntry.objects.filter(activity="sign").count() == 2


def test_one_time_code_confirmation(draft, world, mailoutbox, django_capture_on_commit_callbacks):
    world.employee_user.person = None
    world.employee_user.save()
    application = submit(draft, world)
    emp = application.signatories.get(roles=["angestellter"])
    assert emp.user is None
    with pytest.raises(services.AdmissionError, match="zuerst einen Code"):
        services.confirm_with_code(signatory=emp, code="123456")
    with django_capture_on_commit_callbacks(execute=True):
        services.send_code(signatory=emp)
    code = mailoutbox[-1].body.split("lautet: ")[1][:6]
    with pytest.raises(services.AdmissionError, match="falsch"):
        services.confirm_with_code(signatory=emp, code="000000" if code != "000000" else "111111")
    confirmation = services.confirm_with_code(signatory=emp, code=code)
    assert confirmation.method == Confirmation.Method.EMAIL_CODE
    application.refresh_from_db()
    assert application.state == "vollstaendig"


def test_code_expires_and_attempts_are_limited(draft, world, time_machine):
    world.employee_user.person = None
    world.employee_user.save()
    application = submit(draft, world)
    emp = application.signatories.get(roles=["angestellter"])
    services.send_code(signatory=emp)
    for _ in range(services.MAX_CODE_ATTEMPTS):
        with pytest.raises(services.AdmissionError, match="falsch"):
            services.confirm_with_code(signatory=emp, code="abc")
    with pytest.raises(services.AdmissionError, match="Zu viele"):
        services.confirm_with_code(signatory=emp, code="abc")
    with pytest.raises(services.AdmissionError, match="gerade erst gesendet"):
        services.send_code(signatory=emp)
    time_machine.shift(dt.timedelta(minutes=1))
    services.send_code(signatory=emp)
    time_machine.shift(dt.timedelta(minutes=31))
    with pytest.raises(services.AdmissionError, match="abgelaufen"):
        services.confirm_with_code(signatory=emp, code="123456")


def test_reopen_invalidates_confirmations(draft, world):
    application = submit(draft, world)
    application = services.reopen(actor=world.leiterin, application=application)
    assert application.state == "entwurf"
    assert application.signatories.count() == 0
    assert Confirmation.objects.filter(revoked_at__isnull=True).count() == 0


def received(draft, world):
    application = submit(draft, world)
    confirm_employee(application, world)
    application.refresh_from_db()
    return application


def test_office_workflow_to_final_decision(draft, world, staff_client, real_pdf):
    _, office = staff_client("Zulassung")
    application = received(draft, world)
    # Nachforderung loop
    services.request_documents(actor=office, application=application, text="Seite 2 fehlt")
    application.refresh_from_db()
    assert application.state == "nachforderung"
    with pytest.raises(services.AdmissionError, match="antworten"):
        services.answer_nachforderung(actor=world.leiterin, application=application, answer="")
    services.add_attachment(
        actor=world.leiterin,
        application=application,
        kind="arbeitsvertrag",
        file_name="seite2.pdf",
        content=pdf_bytes("Seite 2"),
    )
    assert application.attachments.filter(kind="nachreichung").count() == 1
    application = services.answer_nachforderung(
        actor=world.leiterin, application=application, answer="anbei"
    )
    assert application.state == "vollstaendig"
    # fee
    application = services.request_fee(
        actor=office, application=application, deadline=dt.date(2026, 12, 14)
    )
    assert application.state == "gebuehr_angefordert"
    fee_text = pdf_text(private_storage.open(application.files.get(kind="gebuehr").path).read())
    assert "60,00 €" in fee_text and "14.12.2026" in fee_text and "§ 38" in fee_text
    application = services.book_payment(
        actor=office, application=application, paid_on=dt.date(2026, 11, 23), reference="K-1"
    )
    assert application.state == "gebuehr_bezahlt"
    # schedule: only sessions of the same Bezirk/committee
    application = services.schedule(
        actor=office, application=application, session=world.sessions[0]
    )
    assert application.state == "terminiert"
    application = services.decide(actor=office, application=application, outcome="genehmigt")
    assert application.state == "genehmigt" and application.decided_on == dt.date(2027, 1, 13)
    beschluss = pdf_text(private_storage.open(application.files.get(kind="beschluss").path).read())
    assert "Beschluss" in beschluss and "13.01.2027" in beschluss
    assert "von dem Anrechnungsfaktor 0,5 auf 0,75 erhöht" in beschluss
    assert "01.02.2027" in beschluss and "Rechtsbehelfsbelehrung" in beschluss
    # registry: new factor from the effective date, history kept
    rows = Taetigkeit.objects.filter(person=world.employee).order_by("valid_from")
    assert [(r.anrechnungsfaktor, r.valid_to) for r in rows] == [
        (Decimal("0.50"), dt.date(2027, 1, 31)),
        (Decimal("0.75"), None),
    ]
    application = services.finalize(
        actor=office, application=application, final_on=dt.date(2027, 2, 20)
    )
    assert application.state == "rechtskraeftig"
    # Nachbesetzung: no administrative fee
    assert not application.files.filter(kind="verwaltungsgebuehr").exists()
    labels = list(application.history.values_list("label", flat=True))
    assert labels[0] == "Entwurf angelegt" and labels[-1] == "Beschluss rechtskräftig"


def test_admin_fee_invoice_for_non_nachbesetzung(draft, world, staff_client, real_pdf):
    _, office = staff_client("Zulassung")
    data = dict(
        draft.data,
        mode="leistungsbeschraenkung",
        lb_name="Dr. Gebunden",
        lb_fach="Allgemeinmedizin",
        employee_fach="Allgemeinmedizin",
    )
    draft = services.save_draft(actor=world.leiterin, application=draft, data=data)
    services.add_attachment(
        actor=world.leiterin,
        application=draft,
        kind="erklaerung_leistungsbeschraenkung",
        file_name="lb.pdf",
        content=pdf_bytes(),
    )
    application = received(draft, world)
    assert application.fee_amount == Decimal("120.00")
    assert application.admin_fee_amount == Decimal("400.00")
    services.request_fee(actor=office, application=application, deadline=dt.date(2026, 12, 14))
    services.defer_fee(actor=office, application=application, note="Stundung")
    services.schedule(actor=office, application=application, session=world.sessions[0])
    services.decide(actor=office, application=application, outcome="genehmigt")
    application = services.finalize(
        actor=office, application=application, final_on=dt.date(2027, 2, 20)
    )
    invoice = application.files.get(kind=GeneratedFile.Kind.VERWALTUNGSGEBUEHR)
    text = pdf_text(private_storage.open(invoice.path).read())
    assert "Verwaltungsgebühr" in text and "400,00 €" in text


def test_rejection_needs_reasons_and_keeps_registry(draft, world, staff_client, real_pdf):
    _, office = staff_client("Zulassung")
    application = received(draft, world)
    services.request_fee(actor=office, application=application, deadline=dt.date(2026, 12, 14))
    services.book_payment(actor=office, application=application, paid_on=dt.date(2026, 11, 23))
    services.schedule(actor=office, application=application, session=world.sessions[1])
    with pytest.raises(services.AdmissionError, match="begründet"):
        services.decide(actor=office, application=application, outcome="abgelehnt")
    application = services.decide(
        actor=office, application=application, outcome="abgelehnt", reasons="Stelle fehlt."
    )
    text = pdf_text(private_storage.open(application.files.get(kind="beschluss").path).read())
    assert "wird abgelehnt" in text and "Stelle fehlt." in text
    assert Taetigkeit.objects.filter(person=world.employee).count() == 1


def test_para38_expiry_job(draft, world, staff_client, time_machine):
    _, office = staff_client("Zulassung")
    application = received(draft, world)
    services.request_fee(actor=office, application=application, deadline=dt.date(2026, 12, 14))
    time_machine.move_to(dt.datetime(2026, 12, 14, 20, 0, tzinfo=dt.UTC), tick=False)
    assert services.expire_unpaid_fees(now=dt.datetime.now(dt.UTC)).count == 0
    time_machine.move_to(dt.datetime(2026, 12, 15, 12, 0, tzinfo=dt.UTC), tick=False)
    dry = services.expire_unpaid_fees(now=dt.datetime.now(dt.UTC), dry_run=True)
    assert dry.count == 1 and dry.items == [application.reference]
    application.refresh_from_db()
    assert application.state == "gebuehr_angefordert"
    services.expire_unpaid_fees(now=dt.datetime.now(dt.UTC))
    application.refresh_from_db()
    assert application.state == "gilt_als_zurueckgenommen"
    assert services.expire_unpaid_fees(now=dt.datetime.now(dt.UTC)).count == 0  # idempotent
    # a payment made in time (booked late) revives it
    services.book_payment(actor=office, application=application, paid_on=dt.date(2026, 12, 14))
    application.refresh_from_db()
    assert application.state == "gebuehr_bezahlt"


def test_schedule_refuses_foreign_session(draft, world, staff_client):
    from kvportal.admission.models import CommitteeSession

    _, office = staff_client("Zulassung")
    application = received(draft, world)
    services.request_fee(actor=office, application=application, deadline=dt.date(2026, 12, 14))
    services.book_payment(actor=office, application=application, paid_on=dt.date(2026, 11, 23))
    leipzig = CommitteeSession.objects.create(
        bezirk="leipzig", committee="aerzte", date=dt.date(2027, 1, 20)
    )
    with pytest.raises(services.AdmissionError, match="anderen Bezirk"):
        services.schedule(actor=office, application=application, session=leipzig)


def test_fee_request_without_fixed_fee_is_refused(draft, world, staff_client):
    _, office = staff_client("Zulassung")
    application = received(draft, world)
    state = application.state
    application.fee_amount = None
    application.save(update_fields=["fee_amount"])
    with pytest.raises(services.AdmissionError, match="keine Antragsgebühr festgesetzt"):
        services.request_fee(actor=office, application=application, deadline=dt.date(2026, 12, 14))
    application.refresh_from_db()
    assert application.state == state and application.fee_requested_at is None
    assert not application.files.filter(kind="gebuehr").exists()


def test_create_session_rules(world, staff_client):
    _, office = staff_client("Zulassung")
    with pytest.raises(services.AdmissionError, match="schon eine Sitzung"):
        services.create_session(
            actor=office, bezirk="dresden", committee="aerzte", date=dt.date(2027, 1, 13)
        )
    with pytest.raises(services.AdmissionError, match="Annahmeschluss"):
        services.create_session(
            actor=office,
            bezirk="dresden",
            committee="aerzte",
            date=dt.date(2027, 4, 14),
            deadline=dt.date(2027, 4, 14),
        )


def test_stale_drafts_are_purged(draft, world, time_machine):
    from kvportal.core.registry import purgers

    assert "zulassung_entwuerfe" in purgers() and "zulassung_gebuehrenfrist" in purgers()
    path = draft.attachments.get().path
    now = dt.datetime(2027, 5, 21, 12, 0, tzinfo=dt.UTC)  # 179 days later
    assert services.purge_stale_drafts(now=now).count == 0
    later = now + dt.timedelta(days=2)
    assert services.purge_stale_drafts(now=later, dry_run=True).items == [draft.reference]
    assert Application.objects.filter(pk=draft.pk).exists()
    assert services.purge_stale_drafts(now=later).count == 1
    assert not Application.objects.filter(pk=draft.pk).exists()
    assert not private_storage.exists(path)


def test_beschluss_is_placed_in_documents(draft, world, staff_client):
    from kvportal.documents.models import Document

    _, office = staff_client("Zulassung")
    application = received(draft, world)
    services.request_fee(actor=office, application=application, deadline=dt.date(2026, 12, 14))
    services.book_payment(actor=office, application=application, paid_on=dt.date(2026, 11, 23))
    services.schedule(actor=office, application=application, session=world.sessions[0])
    services.decide(actor=office, application=application, outcome="genehmigt")
    document = Document.objects.get(betriebsstaette=world.mvz)
    assert document.doc_type == "beschluss" and document.lanr == world.employee.lanr
    assert application.reference in document.title
    assert "Beschluss unter „Dokumente“ eingestellt." in application.history.last().note


def test_anlage1_and_agenda_pdfs_content(draft, world, staff_client, real_pdf):
    from kvportal.admission import pdfs
    from tests.admission.sample import anlage1_rows

    _, office = staff_client("Zulassung")
    data = dict(
        draft.data,
        mode="planungsbereich",
        planungsbereich="Dresden, Stadt",
        anlage1=anlage1_rows(),
        anlage1_waitlist="ja",
        anlage1_waitlist_pb="Meißen",
    )
    draft = services.save_draft(actor=world.leiterin, application=draft, data=data)
    services.add_attachment(
        actor=world.leiterin,
        application=draft,
        kind="taetigkeitsnachweise",
        file_name="nachweise.pdf",
        content=pdf_bytes(),
    )
    application = received(draft, world)
    anlage1 = pdf_text(private_storage.open(application.files.get(kind="anlage1").path).read())
    assert "Lückenlose Aufstellung der ärztlichen Tätigkeiten seit der Approbation" in anlage1
    assert "01.10.2015 31.12.2020 Assistenzärztin Klinikum Musterstadt, Dresden 40,0" in anlage1
    assert "01.01.2021 heute angestellte Ärztin" in anlage1
    assert "Ja, im Planungsbereich Meißen" in anlage1
    services.request_fee(actor=office, application=application, deadline=dt.date(2026, 12, 14))
    services.book_payment(actor=office, application=application, paid_on=dt.date(2026, 11, 23))
    services.schedule(actor=office, application=application, session=world.sessions[0])
    agenda = pdf_text(pdfs.agenda_pdf(world.sessions[0]))
    assert "Tagesordnung der Sitzung am 13.01.2027" in agenda
    assert application.reference in agenda and "0,5 → 0,75" in agenda
    assert "Dr. med. Erika Beispiel" in agenda


def test_para43_retention_of_closed_applications(draft, world, staff_client):
    _, office = staff_client("Zulassung")
    application = received(draft, world)
    services.request_fee(actor=office, application=application, deadline=dt.date(2026, 12, 14))
    services.book_payment(actor=office, application=application, paid_on=dt.date(2026, 11, 23))
    services.schedule(actor=office, application=application, session=world.sessions[0])
    services.decide(actor=office, application=application, outcome="genehmigt")
    services.finalize(actor=office, application=application, final_on=dt.date(2027, 2, 20))
    closed = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)  # frozen time of the history
    upload = application.attachments.get().path
    assert services.purge_closed_files(now=closed.replace(year=2031)).count == 0
    five = closed.replace(year=2031) + dt.timedelta(days=1)
    assert services.purge_closed_files(now=five, dry_run=True).count == 1
    result = services.purge_closed_files(now=five)
    assert result.items == [f"{application.reference} (Akte reduziert)"]
    application.refresh_from_db()
    assert application.data == {} and application.outcome == "genehmigt"
    assert list(application.files.values_list("kind", flat=True)) == ["beschluss"]
    assert not application.attachments.exists() and not private_storage.exists(upload)
    assert services.purge_closed_files(now=five).count == 0  # idempotent
    twenty = closed.replace(year=2046) + dt.timedelta(days=1)
    assert services.purge_closed_files(now=twenty).count == 1
    assert not Application.objects.filter(pk=application.pk).exists()


def test_traeger_without_lanr_confirms_by_submitting(world):
    from kvportal.accounts.constants import Right
    from kvportal.members.constants import Role
    from tests.factories import PersonFactory, TaetigkeitFactory, UserFactory, grant

    gf = PersonFactory(lanr=None, title="", first_name="Thomas", last_name="Krüger")
    TaetigkeitFactory(person=gf, betriebsstaette=world.mvz, role=Role.TRAEGER)
    traeger = UserFactory(person=gf, email="gf@mvz.example")
    grant(traeger, world.mvz, Right.DOCS_BSNR)
    application = services.create_draft(
        actor=traeger,
        type_code="erhoehung_arzt",
        betriebsstaette=world.mvz,
        employee=world.employee,
    )
    assert application.data["representative_name"] == "Thomas Krüger"
    data = dict(
        application.data,
        factor_to="0.75",
        hours="25",
        effective_date="2027-02-01",
        mode="nachbesetzung",
        nachbesetzung_name="Dr. Alt",
        phone="0351 1",
    )
    application = services.save_draft(actor=traeger, application=application, data=data)
    services.add_attachment(
        actor=traeger,
        application=application,
        kind="arbeitsvertrag",
        file_name="v.pdf",
        content=pdf_bytes(),
    )
    application = services.submit(
        actor=traeger, application=application, token=str(application.submission_token)
    )
    rep = application.signatories.get(roles=["vertretungsberechtigter"])
    assert rep.user == traeger and rep.confirmation.method == "portal"


def test_bag_prefills_partners_and_all_must_confirm(db, frozen):
    from kvportal.accounts.constants import Right
    from kvportal.admission.models import CommitteeSession
    from kvportal.members.constants import Role
    from tests.factories import (
        BetriebsstaetteFactory,
        PersonFactory,
        TaetigkeitFactory,
        doctor_account,
    )

    bag = BetriebsstaetteFactory(bag=True, bsnr="941234500", bezirk="chemnitz", city="Chemnitz")
    hahn = doctor_account(bag, Role.VERTRAGSARZT, Right.DOCS_BSNR)
    richter = doctor_account(bag, Role.VERTRAGSARZT, Right.DOCS_BSNR)
    employee = PersonFactory()
    TaetigkeitFactory(
        person=employee,
        betriebsstaette=bag,
        role=Role.ANGESTELLT,
        anrechnungsfaktor=Decimal("0.25"),
    )
    CommitteeSession.objects.create(
        bezirk="chemnitz", committee="aerzte", date=dt.date(2027, 1, 20)
    )
    application = services.create_draft(
        actor=hahn, type_code="erhoehung_arzt", betriebsstaette=bag, employee=employee
    )
    partners = application.data["partners"]
    assert {p["lanr"] for p in partners} == {hahn.person.lanr, richter.person.lanr}
    data = dict(
        application.data,
        factor_to="1.0",
        hours="38",
        effective_date="2027-02-01",
        mode="nachbesetzung",
        nachbesetzung_name="Dr. Alt",
        phone="0371 1",
        email="bag@example.org",
    )
    application = services.save_draft(actor=hahn, application=application, data=data)
    services.add_attachment(
        actor=hahn,
        application=application,
        kind="arbeitsvertrag",
        file_name="v.pdf",
        content=pdf_bytes(),
    )
    assert services.check(application).errors == {}
    application = services.submit(
        actor=hahn, application=application, token=str(application.submission_token)
    )
    roles = {s.name: s.roles for s in application.signatories.all()}
    assert roles[hahn.person.full_name] == ["vertretungsberechtigter", "gesellschafter"]
    assert roles[richter.person.full_name] == ["gesellschafter"]
    assert len(roles) == 3
    services.confirm(actor=richter, signatory=application.signatories.get(user=richter))
    application.refresh_from_db()
    assert application.state == "eingereicht"  # the employee is still missing


def test_psychotherapist_type_uses_its_committee(world, real_pdf):
    from kvportal.admission.models import CommitteeSession

    CommitteeSession.objects.create(
        bezirk="dresden", committee="psychotherapie", date=dt.date(2027, 1, 20)
    )
    application = services.create_draft(
        actor=world.leiterin,
        type_code="erhoehung_psychotherapeut",
        betriebsstaette=world.mvz,
        employee=world.employee,
    )
    assert application.committee == "psychotherapie"
    data = dict(
        application.data,
        factor_to="0.75",
        hours="22",
        effective_date="2027-02-01",
        mode="nachbesetzung",
        nachbesetzung_name="Dipl.-Psych. Alt",
        phone="0351 1",
        applicant_fach="Psychologische Psychotherapie (Verhaltenstherapie)",
    )
    application = services.save_draft(actor=world.leiterin, application=application, data=data)
    assert services.check(application).computed["earliest_session"].date == dt.date(2027, 1, 20)
    services.add_attachment(
        actor=world.leiterin,
        application=application,
        kind="arbeitsvertrag",
        file_name="v.pdf",
        content=pdf_bytes(),
    )
    application = services.submit(
        actor=world.leiterin, application=application, token=str(application.submission_token)
    )
    text = pdf_text(private_storage.open(application.files.get(kind="antrag").path).read())
    assert "eines angestellten Psychotherapeuten" in text
    assert "(Psychotherapie)" in text and "Vertragspsychotherapeutensitz" in text
    assert "Approbation / Richtlinienverfahren" in text


def test_signatory_link_token_is_stored_only_as_hash(
    draft, world, mailoutbox, django_capture_on_commit_callbacks
):
    import hashlib
    import re

    world.employee_user.person = None
    world.employee_user.save()
    with django_capture_on_commit_callbacks(execute=True):
        application = submit(draft, world)
    emp = application.signatories.get(roles=["angestellter"])
    mail = next(m for m in mailoutbox if "Bitte bestätigen" in m.subject)
    token = re.search(r"/zulassung/bestaetigung/([^/\s]+)/", mail.body).group(1)
    assert emp.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert token not in emp.token_sha256
    assert services.signatory_for_token(token) == emp
    assert services.signatory_for_token(emp.token_sha256) is None  # the hash is no key
    new = services.issue_link(signatory=emp)
    assert services.signatory_for_token(token) is None  # an earlier link stops working
    assert services.signatory_for_token(new) == emp


def test_codes_are_limited_per_minute_and_per_day(
    draft, world, time_machine, mailoutbox, django_capture_on_commit_callbacks
):
    world.employee_user.person = None
    world.employee_user.save()
    application = submit(draft, world)
    emp = application.signatories.get(roles=["angestellter"])
    with django_capture_on_commit_callbacks(execute=True):
        services.send_code(signatory=emp)
    time_machine.shift(dt.timedelta(seconds=59))
    with pytest.raises(services.AdmissionError, match="Bitte warten Sie eine Minute"):
        services.send_code(signatory=emp)
    time_machine.shift(dt.timedelta(seconds=1))
    for _ in range(services.MAX_CODES_PER_DAY - 1):
        with django_capture_on_commit_callbacks(execute=True):
            services.send_code(signatory=emp)
        time_machine.shift(dt.timedelta(minutes=5))
    assert len([m for m in mailoutbox if "Bestätigungscode" in m.subject]) == 5
    with pytest.raises(services.AdmissionError, match="Heute wurden bereits 5 Codes"):
        services.send_code(signatory=emp)
    emp.refresh_from_db()
    assert emp.codes_sent == 5
    time_machine.shift(dt.timedelta(days=1))  # the next day: codes again
    services.send_code(signatory=emp)
    emp.refresh_from_db()
    assert emp.codes_sent == 1


def test_no_code_once_confirmed_or_withdrawn(draft, world):
    world.employee_user.person = None
    world.employee_user.save()
    application = submit(draft, world)
    emp = application.signatories.get(roles=["angestellter"])
    assert services.link_open(emp)
    services.withdraw(actor=world.leiterin, application=application)
    emp.refresh_from_db()
    assert not services.link_open(emp)
    with pytest.raises(services.AdmissionError, match="keine Bestätigung mehr nötig"):
        services.send_code(signatory=emp)


def test_migration_hashes_links_already_sent(draft, world):
    """Migration 0002: a raw token stored before keeps working as a link after the upgrade."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("kvportal.admission.migrations.0002_signatory_token_sha256")
    application = submit(draft, world)
    emp = application.signatories.get(roles=["angestellter"])
    emp.token_sha256 = "alter-klartext-token"  # as 0001 stored it (renamed column)
    emp.save(update_fields=["token_sha256"])
    migration.hash_tokens(apps, None)
    emp.refresh_from_db()
    assert emp.token_sha256 == services.hash_link_token("alter-klartext-token")
    assert services.signatory_for_token("alter-klartext-token") == emp
