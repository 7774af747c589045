"""Services of the access app: checks, submission, confirmations, approval, letters."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.hashers import check_password
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from kvportal.access import rules, services
from kvportal.access.models import AccessApplication, Confirmation, CredentialLetter
from kvportal.accounts import scope
from kvportal.accounts.constants import Right, StaffRole
from kvportal.accounts.models import PortalRight, User
from kvportal.audit.models import AccessLogEntry
from tests.access.helpers import codes_by_email, draft, mvz_world, new_lanr, persons_for
from tests.factories import BetriebsstaetteFactory, UserFactory, kv_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return mvz_world()


@pytest.fixture
def registrar(db):
    return kv_staff(StaffRole.ARZTREGISTER, username="kv.arztregister")


def submit(app, capture):
    with capture(execute=True):
        return services.submit(actor=None, application=app)


def confirm_all(app, capture, *, skip=()):
    codes = codes_by_email()
    for email, (token, code) in codes.items():
        if email in skip:
            continue
        conf = services.find_confirmation(token)
        with capture(execute=True):
            services.confirm_with_code(actor=None, confirmation=conf, code=code)
    app.refresh_from_db()
    return app


# --- creation & drafts ---------------------------------------------------------------------


def test_double_post_of_start_form_creates_one_application(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first, token = services.create_application(
            actor=None, variant="mvz", contact_email="a@mvz.example", nonce="n-1"
        )
        second, token2 = services.create_application(
            actor=None, variant="mvz", contact_email="a@mvz.example", nonce="n-1"
        )
    assert first.pk == second.pk and token and token2 is None
    assert AccessApplication.objects.count() == 1
    assert first.reference.startswith("OZ-")
    # the draft link is mailed to the contact address and opens this application
    assert len(mail.outbox) == 1 and "/zugang/entwurf/" in mail.outbox[0].body
    assert services.find_by_token(token) == first
    assert services.find_by_token("falsch") is None


def test_draft_saves_incomplete_data(world):
    practice, leiter, arzt = world
    app = draft(practice, leiter, arzt, persons=[{"role": "arzt", "last_name": "Nur"}])
    assert app.persons.count() == 1 and app.status == rules.Status.ENTWURF


# --- checks --------------------------------------------------------------------------------


def test_leiter_not_doctor_of_the_mvz_is_flagged_for_staff_only(
    world, django_capture_on_commit_callbacks
):
    """Deciding it needs a registry look-up of another person: a staff flag (finding 8)."""
    _practice, leiter, arzt = world
    other = BetriebsstaetteFactory(mvz=True)
    app = draft(other, leiter, arzt)
    findings = services.check(app)
    assert rules.errors(findings) == []
    assert any(
        f.field == "persons.1.lanr" and "muss Arzt des MVZ sein" in f.message
        for f in rules.flags(findings)
    )
    applicant = services.check_for_applicant(app)
    assert not any("muss Arzt" in f.message or "nicht" in f.message for f in applicant)
    assert any(rules.NEUTRAL_PERSON_NOTE in f.message for f in applicant)
    app = submit(app, django_capture_on_commit_callbacks)
    assert app.status == rules.Status.BESTAETIGUNG
    assert any("muss Arzt des MVZ sein" in f["message"] for f in app.flags)


def test_unknown_lanr_is_flagged_and_kept_for_staff(world, django_capture_on_commit_callbacks):
    practice, leiter, arzt = world
    persons = persons_for(leiter, arzt)
    persons[2]["lanr"] = new_lanr("777001")
    app = draft(practice, leiter, arzt, persons=persons)
    findings = services.check(app)
    assert rules.errors(findings) == []
    assert any("nicht bekannt" in f.message for f in rules.flags(findings))
    assert not any("nicht bekannt" in f.message for f in services.check_for_applicant(app))
    app = submit(app, django_capture_on_commit_callbacks)
    assert app.flags and "nicht bekannt" in app.flags[0]["message"]


def test_duplicate_pending_application_refused_with_pointer(
    world, django_capture_on_commit_callbacks
):
    practice, leiter, arzt = world
    first = submit(draft(practice, leiter, arzt), django_capture_on_commit_callbacks)
    second = draft(practice, leiter, arzt)
    errs = [f for f in rules.errors(services.check(second)) if f.field == "bsnr"]
    assert errs and first.reference in errs[0].message
    with pytest.raises(services.SubmissionError):
        services.submit(actor=None, application=second)


def test_acknowledgement_required(world):
    practice, leiter, arzt = world
    app = draft(practice, leiter, arzt, acknowledged=False)
    errs = rules.errors(services.check(app))
    assert [f.field for f in errs] == ["acknowledge"]


# --- submission and confirmations ----------------------------------------------------------


def test_submit_requests_every_confirmation_and_is_idempotent(
    world, django_capture_on_commit_callbacks
):
    practice, leiter, arzt = world
    app = draft(practice, leiter, arzt)
    mail.outbox.clear()
    app = submit(app, django_capture_on_commit_callbacks)
    assert app.status == rules.Status.BESTAETIGUNG
    assert set(codes_by_email()) == {
        "gf@traeger.example",
        "leitung@mvz.example",
        "arzt@mvz.example",
    }
    # double submit: nothing new
    again = submit(app, django_capture_on_commit_callbacks)
    assert again.pk == app.pk and again.status == rules.Status.BESTAETIGUNG
    assert Confirmation.objects.filter(application=app).count() == 3
    assert AccessApplication.objects.count() == 1
    # e-mails carry no health data and no LANR
    for message in mail.outbox:
        assert leiter.lanr not in message.body and arzt.lanr not in message.body


def test_submitted_only_when_every_confirmation_present(world, django_capture_on_commit_callbacks):
    practice, leiter, arzt = world
    app = submit(draft(practice, leiter, arzt), django_capture_on_commit_callbacks)
    app = confirm_all(app, django_capture_on_commit_callbacks, skip={"arzt@mvz.example"})
    assert app.status == rules.Status.BESTAETIGUNG
    missing = [p.display_name for p in services.missing_persons(app)]
    assert missing == [f"{arzt.last_name}, {arzt.first_name}"]
    app = confirm_all(app, django_capture_on_commit_callbacks)
    assert app.status == rules.Status.EINGEREICHT and app.submitted_at
    assert services.missing_persons(app) == []


def test_wrong_code_counts_attempts_and_locks(world, django_capture_on_commit_callbacks):
    practice, leiter, arzt = world
    submit(draft(practice, leiter, arzt), django_capture_on_commit_callbacks)
    token, code = codes_by_email()["arzt@mvz.example"]
    conf = services.find_confirmation(token)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    for _ in range(services.CODE_MAX_ATTEMPTS):
        with pytest.raises(services.CodeMismatch):
            services.confirm_with_code(actor=None, confirmation=conf, code=wrong)
    conf.refresh_from_db()
    assert conf.attempts == services.CODE_MAX_ATTEMPTS
    with pytest.raises(services.CodeMismatch, match="zu oft"):
        services.confirm_with_code(actor=None, confirmation=conf, code=code)
    assert Confirmation.objects.get(pk=conf.pk).confirmed_at is None


def test_change_after_confirmation_requires_new_confirmations(
    world, django_capture_on_commit_callbacks
):
    practice, leiter, arzt = world
    app = submit(draft(practice, leiter, arzt), django_capture_on_commit_callbacks)
    old = codes_by_email()
    app = confirm_all(app, django_capture_on_commit_callbacks, skip={"arzt@mvz.example"})
    services.back_to_draft(actor=None, application=app)
    persons = persons_for(leiter, arzt)
    persons[2]["right_docs_bsnr"] = True
    app = services.save_draft(
        actor=None,
        application=app,
        practice_name=practice.name,
        bsnr=practice.bsnr,
        traeger_name="MVZ Träger GmbH",
        variant="mvz",
        persons=persons,
        acknowledged=True,
    )
    # the old link no longer works
    with pytest.raises(ValidationError, match="nicht mehr gültig"):
        services.confirm_with_code(
            actor=None,
            confirmation=services.find_confirmation(old["arzt@mvz.example"][0]),
            code=old["arzt@mvz.example"][1],
        )
    mail.outbox.clear()
    app = submit(app, django_capture_on_commit_callbacks)
    assert len(services.missing_persons(app)) == 3
    assert len(codes_by_email()) == 3


def test_unchanged_resubmission_keeps_confirmations(
    world, registrar, django_capture_on_commit_callbacks
):
    practice, leiter, arzt = world
    app = submit(draft(practice, leiter, arzt), django_capture_on_commit_callbacks)
    app = confirm_all(app, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_corrections(actor=registrar, application=app, message="Bitte prüfen.")
    app.refresh_from_db()
    assert app.status == rules.Status.NACHBESSERUNG and app.is_editable
    app = submit(app, django_capture_on_commit_callbacks)
    assert app.status == rules.Status.EINGEREICHT


def test_confirm_with_portal_login(world, django_capture_on_commit_callbacks):
    practice, leiter, arzt = world
    app = submit(draft(practice, leiter, arzt), django_capture_on_commit_callbacks)
    leiter_user = UserFactory(person=leiter)
    stranger = UserFactory()
    conf = Confirmation.objects.get(application=app, person_key=f"lanr:{leiter.lanr}")
    with pytest.raises(PermissionDenied):
        services.confirm_with_login(actor=stranger, confirmation=conf)
    services.confirm_with_login(actor=leiter_user, confirmation=conf)
    conf.refresh_from_db()
    assert conf.method == Confirmation.Method.LOGIN and conf.confirmed_by == leiter_user


# --- back office ---------------------------------------------------------------------------


def submitted(world, capture, **kw):
    practice, leiter, arzt = world
    app = submit(draft(practice, leiter, arzt, **kw), capture)
    return confirm_all(app, capture)


def test_only_arztregister_decides(world, django_capture_on_commit_callbacks):
    app = submitted(world, django_capture_on_commit_callbacks)
    other = kv_staff(StaffRole.ABRECHNUNG, username="kv.abr")
    with pytest.raises(PermissionDenied):
        services.approve(actor=other, application=app)


def test_reject_needs_reason_and_notifies(world, registrar, django_capture_on_commit_callbacks):
    app = submitted(world, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError, match="Begründung"):
        services.reject(actor=registrar, application=app, reason=" ")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.reject(actor=registrar, application=app, reason="Kein MVZ in Sachsen.")
    app.refresh_from_db()
    assert app.status == rules.Status.ABGELEHNT and app.staff_message
    assert mail.outbox and "Abgelehnt" in mail.outbox[0].subject
    assert "Kein MVZ" not in mail.outbox[0].body  # the reason is shown in the portal only


def test_approval_creates_accounts_rights_and_letters(
    world, registrar, django_capture_on_commit_callbacks
):
    practice, leiter, arzt = world
    existing = UserFactory(person=arzt)  # the employed doctor already has an account
    app = submitted(world, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        letters = services.approve(actor=registrar, application=app)
    app.refresh_from_db()
    assert app.status == rules.Status.GENEHMIGT
    # ÄL: new account with a letter, docs_bsnr ticked + billing automatically
    assert len(letters) == 1
    leiter_user = letters[0].user
    assert leiter_user.person == leiter and leiter_user.must_change_password
    held = set(
        PortalRight.objects.filter(user=leiter_user, betriebsstaette=practice).values_list(
            "right", flat=True
        )
    )
    assert held == {Right.BILLING, Right.DOCS_BSNR}
    # existing account: right added, no new account, no letter
    assert scope.has_right(existing, practice, Right.DOCS_LANR)
    assert User.objects.filter(person=arzt).count() == 1
    # the Geschäftsführer asked for no access: no account
    assert not User.objects.filter(last_name="Gross").exists()
    assert AccessLogEntry.objects.filter(activity="decision", object_id=str(app.pk)).exists()


def test_letters_password_hashed_reissue_invalidates(
    world, registrar, django_capture_on_commit_callbacks
):
    app = submitted(world, django_capture_on_commit_callbacks)
    letters = services.approve(actor=registrar, application=app)
    assert len(letters) == 2  # ÄL and employed doctor have no account yet
    letter = letters[0]
    (first,) = services.issue_letters(actor=registrar, letters=[letter])
    user = User.objects.get(pk=letter.user_id)
    assert check_password(first.password, user.password)
    assert first.password not in user.password
    # nothing in the letter table or the audit log contains the password
    assert not CredentialLetter.objects.filter(reference__contains=first.password).exists()
    assert not AccessLogEntry.objects.filter(detail__icontains=first.password).exists()
    # printing again = re-issue: new letter, new password, old one invalid
    (second,) = services.issue_letters(actor=registrar, letters=[first.letter])
    user.refresh_from_db()
    assert second.letter.pk != first.letter.pk
    assert second.password != first.password
    assert check_password(second.password, user.password)
    assert not check_password(first.password, user.password)
    first.letter.refresh_from_db()
    assert first.letter.superseded_at is not None
    with pytest.raises(ValidationError, match="ersetzt"):
        services.issue_letters(actor=registrar, letters=[first.letter])


def test_reissue_for_lost_letter(registrar):
    practice = BetriebsstaetteFactory()
    user = UserFactory()
    PortalRight.objects.create(user=user, betriebsstaette=practice, right=Right.BILLING)
    issued = services.reissue_letter(actor=registrar, user=user)
    user.refresh_from_db()
    assert issued.letter.bsnr == practice.bsnr
    assert check_password(issued.password, user.password) and user.must_change_password


def test_initial_password_expires(world, registrar, client, settings):
    settings.INITIAL_PASSWORD_VALIDITY_DAYS = 30
    practice = BetriebsstaetteFactory()
    user = UserFactory()
    with time_machine.travel(dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC), tick=False):
        issued = services.reissue_letter(actor=registrar, user=user)
    assert issued.letter.valid_until == dt.datetime(2026, 3, 31, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(dt.datetime(2026, 3, 31, 9, 1, tzinfo=dt.UTC), tick=False):
        response = client.post(
            "/anmelden/", {"username": user.username, "password": issued.password}
        )
        assert response.status_code == 200
        assert "abgelaufen" in response.content.decode()
        assert "neuen Zugangsbrief" in response.content.decode()
    with time_machine.travel(dt.datetime(2026, 3, 31, 8, 59, tzinfo=dt.UTC), tick=False):
        response = client.post(
            "/anmelden/", {"username": user.username, "password": issued.password}
        )
        assert response.status_code == 302
    assert practice  # practice exists so the letter has an address


def test_purge_drafts(world):
    practice, leiter, arzt = world
    with time_machine.travel(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), tick=False):
        old = draft(practice, leiter, arzt)
    fresh = draft(practice, leiter, arzt)
    now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    assert services.purge_drafts(now=now, dry_run=True).count == 1
    assert AccessApplication.objects.filter(pk=old.pk).exists()
    services.purge_drafts(now=now)
    assert not AccessApplication.objects.filter(pk=old.pk).exists()
    assert AccessApplication.objects.filter(pk=fresh.pk).exists()


# --- variants, practice kind, resend, audit ------------------------------------------------


def bag_world():
    from kvportal.members.constants import Role as MemberRole
    from tests.factories import PersonFactory, TaetigkeitFactory

    practice = BetriebsstaetteFactory(bag=True)
    partners = [PersonFactory(last_name=n) for n in ("Partnerin", "Partner")]
    for p in partners:
        TaetigkeitFactory(person=p, betriebsstaette=practice, role=MemberRole.VERTRAGSARZT)
    return practice, partners


def test_bag_all_partners_confirm_and_get_accounts(registrar, django_capture_on_commit_callbacks):
    practice, partners = bag_world()
    app, _ = services.create_application(actor=None, variant="bag", contact_email="bag@x.example")
    rows = [
        {
            "role": "partner",
            "last_name": p.last_name,
            "first_name": p.first_name,
            "email": f"{p.last_name.lower()}@bag.example",
            "lanr": p.lanr,
            "listed": True,
            "right_billing": True,
            "right_docs_lanr": True,
        }
        for p in partners
    ]
    app = services.save_draft(
        actor=None,
        application=app,
        practice_name=practice.name,
        bsnr=practice.bsnr,
        traeger_name="",
        variant="bag",
        persons=rows,
        acknowledged=True,
    )
    assert rules.errors(services.check(app)) == []
    app = submit(app, django_capture_on_commit_callbacks)
    assert set(codes_by_email()) == {"partnerin@bag.example", "partner@bag.example"}
    app = confirm_all(app, django_capture_on_commit_callbacks)
    assert app.status == rules.Status.EINGEREICHT
    letters = services.approve(actor=registrar, application=app)
    assert len(letters) == 2
    for letter in letters:
        assert scope.has_right(letter.user, practice, Right.BILLING)
        assert scope.has_right(letter.user, practice, Right.DOCS_LANR)
        assert not scope.has_right(letter.user, practice, Right.DOCS_BSNR)


def test_einzelpraxis_doctor_confirms(django_capture_on_commit_callbacks):
    from tests.factories import PersonFactory, TaetigkeitFactory

    practice = BetriebsstaetteFactory()
    doctor = PersonFactory()
    TaetigkeitFactory(person=doctor, betriebsstaette=practice)
    app, _ = services.create_application(
        actor=None, variant="einzelpraxis", contact_email="ep@x.example"
    )
    app = services.save_draft(
        actor=None,
        application=app,
        practice_name=practice.name,
        bsnr=practice.bsnr,
        traeger_name="",
        variant="einzelpraxis",
        persons=[
            {
                "role": "inhaber",
                "last_name": doctor.last_name,
                "first_name": doctor.first_name,
                "email": "ep@praxis.example",
                "lanr": doctor.lanr,
                "listed": True,
                "right_docs_bsnr": True,
            }
        ],
        acknowledged=True,
    )
    app = submit(app, django_capture_on_commit_callbacks)
    assert list(codes_by_email()) == ["ep@praxis.example"]
    assert confirm_all(app, django_capture_on_commit_callbacks).status == rules.Status.EINGEREICHT


def test_variant_differing_from_registry_is_flagged(world):
    practice, leiter, arzt = world
    app = draft(practice, leiter, arzt)
    app.variant = "bag"
    app.save()
    flagged = [f for f in services.check(app) if f.field == "variant"]
    assert flagged and flagged[0].level is rules.Level.FLAG
    assert "Medizinisches Versorgungszentrum" in flagged[0].message
    # the kind of a registered practice is registry data: not for applicants
    applicant = services.check_for_applicant(app)
    assert not any("Versorgungszentrum" in f.message for f in applicant)


def test_resend_is_throttled_and_invalidates_old_code(world, django_capture_on_commit_callbacks):
    practice, leiter, arzt = world
    submit(draft(practice, leiter, arzt), django_capture_on_commit_callbacks)
    token, old_code = codes_by_email()["arzt@mvz.example"]
    conf = services.find_confirmation(token)
    with pytest.raises(ValidationError, match="warten"):
        services.resend_confirmation(actor=None, confirmation=conf)
    mail.outbox.clear()
    with (
        time_machine.travel(dt.timedelta(minutes=2)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.resend_confirmation(actor=None, confirmation=conf)
    new_token, new_code = codes_by_email()["arzt@mvz.example"]
    assert new_token != token
    assert services.find_confirmation(token) is None  # the old link is gone
    assert services.find_confirmation(new_token).pk == conf.pk
    if new_code != old_code:
        with pytest.raises(services.CodeMismatch):
            services.confirm_with_code(actor=None, confirmation=conf, code=old_code)


def test_every_step_is_audited(world, registrar, django_capture_on_commit_callbacks):
    app = submitted(world, django_capture_on_commit_callbacks)
    letters = services.approve(actor=registrar, application=app)
    services.issue_letters(actor=registrar, letters=letters)
    activities = list(
        AccessLogEntry.objects.filter(
            object_type="access.accessapplication", object_id=str(app.pk)
        ).values_list("activity", flat=True)
    )
    for expected in ("create", "update", "submit", "sign", "decision"):
        assert expected in activities, expected
    assert AccessLogEntry.objects.filter(activity="export").count() == len(letters)
    assert AccessLogEntry.objects.filter(activity="right_granted").count() >= 3
