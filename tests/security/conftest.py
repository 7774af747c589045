"""A cross-app world for the security tests: an MVZ, a BAG and a single practice with users of
different rights, KV staff of every role, and real objects of every app made by their services.

PDF rendering is replaced by a tiny valid PDF (the tests are about who gets what, not layout)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kvportal.accounts.constants import Right
from kvportal.core.quarters import Quarter
from kvportal.members.constants import Role
from tests.factories import (
    BetriebsstaetteFactory,
    PersonFactory,
    TaetigkeitFactory,
    UserFactory,
    doctor_account,
    grant,
    kv_staff,
)

FROZEN = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
ON_TIME = dt.datetime(2026, 4, 5, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
Q1 = Quarter(2026, 1)


def tiny_pdf(text: str = "Test") -> bytes:
    from tests.ehba.conftest import make_pdf

    return make_pdf(text)


@dataclass
class World:
    practices: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    staff: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)
    #: objects[kind][practice key] -> list of objects
    objects: dict = field(default_factory=dict)
    #: what each user may see: visible[kind] -> {user key: set of object pks}
    visible: dict = field(default_factory=dict)

    def add(self, kind: str, practice: str, obj) -> None:
        self.objects.setdefault(kind, {}).setdefault(practice, []).append(obj)

    def all(self, kind: str) -> list:
        kind = "admission" if kind.startswith("admission") else kind
        return [o for objs in self.objects.get(kind, {}).values() for o in objs]


def _fast_pdfs(monkeypatch) -> None:
    fake = lambda template, context=None, **kw: tiny_pdf(str(template))  # noqa: E731
    import kvportal.access.pdf
    import kvportal.admission.pdfs
    import kvportal.billing.views
    import kvportal.core.pdf

    for module in (kvportal.core.pdf, kvportal.access.pdf, kvportal.admission.pdfs):
        monkeypatch.setattr(module, "render_pdf", fake)
    monkeypatch.setattr(kvportal.billing.views, "render_pdf", fake)


def _billing(world: World, capture) -> None:
    from kvportal.billing import services as billing
    from kvportal.kvdt import generate

    submitters = {"mvz": "mvz_billing", "bag": "bag_staff", "solo": "solo"}
    for seed, (key, user_key) in enumerate(submitters.items(), start=1):
        practice = world.practices[key]
        content = generate(4, seed=seed, quarter=Q1, bsnr=practice.bsnr)
        name = f"Z01{practice.bsnr}_05.04.2026_10.30.con"
        with capture(execute=True):
            submission = billing.receive_submission(
                actor=world.users[user_key],
                betriebsstaette=practice,
                quarter=Q1,
                upload=SimpleUploadedFile(name, content),
                filename=name,
                now=ON_TIME,
            )
        submission.refresh_from_db()
        submission.kvdt_content = content
        world.add("submission", key, submission)


def _documents(world: World) -> None:
    from kvportal.documents import services as documents

    def publish(key, title, lanr=None, doc_type="honorarbescheid"):
        doc = documents.publish_document(
            actor=None,
            betriebsstaette=world.practices[key],
            quarter=Q1,
            doc_type=doc_type,
            title=title,
            content=tiny_pdf(title),
            lanr=lanr,
            notify=False,
            amount=Decimal("1000") if doc_type == "honorarbescheid" else None,
        )
        world.add("document", key, doc)
        return doc

    publish("mvz", "Honorarbescheid MVZ-Alpha")
    publish(
        "mvz", "Richtigstellung Arzt-A", world.users["mvz_arzt_a"].person.lanr, "richtigstellung"
    )
    publish(
        "mvz", "Richtigstellung Arzt-B", world.users["mvz_arzt_b"].person.lanr, "richtigstellung"
    )
    publish("bag", "Honorarbescheid BAG-Beta")
    publish("solo", "Honorarbescheid Solo-Gamma")


def _access(world: World) -> None:
    from kvportal.access import services as access

    for key, user_key, variant in (("bag", "bag_partner", "bag"), ("solo", "solo", "einzelpraxis")):
        practice = world.practices[key]
        app, _token = access.create_application(
            actor=world.users[user_key],
            variant=variant,
            contact_email=f"{user_key}@praxis.example",
            nonce=f"nonce-{key}",
            bsnr=practice.bsnr,
            practice_name=practice.name,
        )
        world.add("access", key, app)
    anonymous, _ = access.create_application(
        actor=None, variant="einzelpraxis", contact_email="neu@praxis.example", nonce="anon"
    )
    world.add("access", "anonymous", anonymous)


def _admission(world: World) -> None:
    from kvportal.admission import services as admission
    from kvportal.admission.models import CommitteeSession
    from tests.admission.conftest import pdf_bytes

    for d in (dt.date(2027, 1, 13), dt.date(2027, 2, 17), dt.date(2027, 3, 17)):
        CommitteeSession.objects.create(bezirk="dresden", committee="aerzte", date=d)
    mvz = world.practices["mvz"]
    leiter = world.users["mvz_leiter"]
    application = admission.create_draft(
        actor=leiter,
        type_code="erhoehung_arzt",
        betriebsstaette=mvz,
        employee=world.users["mvz_arzt_a"].person,
    )
    data = dict(application.data)
    data.update(
        factor_to="0.75",
        hours="25",
        effective_date="2027-02-01",
        mode="nachbesetzung",
        nachbesetzung_name="Dr. Hans Vorgänger",
        applicant_fach="Allgemeinmedizin",
        phone="0351 123456",
    )
    application = admission.save_draft(actor=leiter, application=application, data=data)
    admission.add_attachment(
        actor=leiter,
        application=application,
        kind="arbeitsvertrag",
        file_name="vertrag.pdf",
        content=pdf_bytes(),
    )
    application = admission.submit(
        actor=leiter, application=application, token=str(application.submission_token)
    )
    world.add("admission", "mvz", application)
    # a second MVZ draft (never submitted, with a contract uploaded) and a BAG draft
    second = admission.create_draft(
        actor=leiter, type_code="erhoehung_arzt", betriebsstaette=mvz, employee=None
    )
    admission.add_attachment(
        actor=leiter,
        application=second,
        kind="arbeitsvertrag",
        file_name="entwurf-vertrag.pdf",
        content=pdf_bytes("Entwurf"),
    )
    world.add("admission", "mvz", second)
    world.add(
        "admission",
        "bag",
        admission.create_draft(
            actor=world.users["bag_partner"],
            type_code="erhoehung_arzt",
            betriebsstaette=world.practices["bag"],
            employee=None,
        ),
    )


def _ehba(world: World) -> None:
    from django.contrib.contenttypes.models import ContentType

    from kvportal.ehba import services as ehba
    from kvportal.ehba.models import VerificationReport

    targets = [
        ("mvz", world.users["mvz_billing"], world.objects["submission"]["mvz"][0]),
        ("bag", world.users["bag_partner"], world.objects["submission"]["bag"][0]),
        ("mvz", world.users["mvz_leiter"], world.objects["admission"]["mvz"][0]),
    ]
    for key, actor, obj in targets:
        for document in ehba.prepare_documents(actor=actor, application=obj):
            world.add("ehba_document", key, document)
            report = VerificationReport.objects.create(
                content_type=ContentType.objects.get_for_model(obj),
                object_id=str(obj.pk),
                document=document,
                document_title=document.title,
                actor=actor,
                signed_sha256=document.current_sha256,
                original_sha256=document.original_sha256,
                verdict="invalid",
            )
            world.add("ehba_report", key, report)


def _registrations(world: World) -> None:
    from kvportal.ehba.models import CardRegistration

    for key, user_key in (("mvz", "mvz_leiter"), ("bag", "bag_partner")):
        user = world.users[user_key]
        registration = CardRegistration.objects.create(
            user=user,
            name="eHBA",
            person=user.person,
            telematik_id=f"1-11{user.pk:06d}",
            profession="arzt",
            holder_name=f"{user.first_name} {user.last_name}",
            card_serial=f"80276{user.pk:015d}",
            certificate_fingerprint=f"{user.pk:064d}",
        )
        world.add("ehba_registration", key, registration)


@pytest.fixture
def world(db, monkeypatch, time_machine, django_capture_on_commit_callbacks) -> World:
    from kvportal.accounts import services as accounts

    time_machine.move_to(FROZEN, tick=False)
    # hundreds of expected 404s: don't format a warning for each
    monkeypatch.setattr(logging.getLogger("django.request"), "level", logging.ERROR)
    _fast_pdfs(monkeypatch)
    w = World()
    mvz = BetriebsstaetteFactory(mvz=True, name="MVZ Alpha", email="info@mvz.example")
    bag = BetriebsstaetteFactory(bag=True, name="BAG Beta")
    solo = BetriebsstaetteFactory(name="Praxis Gamma")
    w.practices = {"mvz": mvz, "bag": bag, "solo": solo}

    arzt_a = PersonFactory(first_name="Anja", last_name="Angestellt")
    TaetigkeitFactory(
        person=arzt_a,
        betriebsstaette=mvz,
        role=Role.ANGESTELLT,
        anrechnungsfaktor=Decimal("0.5"),
        weekly_hours=Decimal("18"),
    )
    user_a = UserFactory(person=arzt_a, first_name="Anja", last_name="Angestellt")
    grant(user_a, mvz, Right.DOCS_LANR)
    w.users = {
        # Ärztlicher Leiter with the BSNR-wide document right (billing by the ÄL rule)
        "mvz_leiter": doctor_account(mvz, Role.AERZTLICHER_LEITER, Right.DOCS_BSNR),
        "mvz_arzt_a": user_a,
        "mvz_arzt_b": doctor_account(mvz, Role.ANGESTELLT, Right.DOCS_LANR),
        "mvz_billing": doctor_account(mvz, Role.ANGESTELLT, Right.BILLING),
        "bag_partner": doctor_account(bag, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR),
        "solo": doctor_account(
            solo, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR, Right.DOCS_LANR
        ),
    }
    staff_user, _ = accounts.create_praxispersonal(
        actor=w.users["bag_partner"],
        betriebsstaette=bag,
        first_name="Mia",
        last_name="Helfer",
        email="",
        rights=[Right.BILLING],
    )
    staff_user.must_change_password = False
    staff_user.first_password_change_at = dt.datetime(2024, 1, 5, tzinfo=dt.UTC)
    staff_user.save()
    w.users["bag_staff"] = staff_user
    w.staff = {
        role: kv_staff(role, username=f"kv.{role.lower()}")
        for role in ("Abrechnung", "Arztregister", "Zulassung")
    }
    for key, user in w.users.items():
        _token, raw = accounts.create_api_token(
            actor=user, name=f"PVS {key}", scopes=["billing", "documents"]
        )
        w.tokens[key] = raw

    _billing(w, django_capture_on_commit_callbacks)
    _documents(w)
    _access(w)
    _admission(w)
    _ehba(w)
    _registrations(w)
    return w
