"""The demo world of `kvportal demo`: synthetic practices, people, accounts (no real data)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth.models import Group
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from kvportal.accounts.constants import AccountKind, Right, StaffRole
from kvportal.accounts.models import PortalRight, User
from kvportal.members.constants import Bezirk, PracticeKind, Profession, Role
from kvportal.members.identifiers import make_lanr
from kvportal.members.models import Betriebsstaette, Person, Taetigkeit

DEMO_PASSWORD = "Mipo-Demo!2026"
#: Base32 TOTP key of the demo staff accounts (add it to any authenticator app).
DEMO_TOTP_KEY_HEX = "3132333435363738393031323334353637383930"  # RFC 6238 test key
MVZ_BSNR = "953000100"


def _since() -> dt.date:
    """The demo practices work together since 1 January six years ago (from the clock)."""
    return dt.date(timezone.localdate().year - 6, 1, 1)


def _person(
    six: str,
    fg: str,
    first: str,
    last: str,
    *,
    title: str = "Dr. med.",
    profession: str = Profession.ARZT,
    fachgebiet: str = "",
) -> Person:
    lanr = make_lanr(six, fg)
    person, _ = Person.objects.get_or_create(
        lanr=lanr,
        defaults={
            "title": title,
            "first_name": first,
            "last_name": last,
            "profession": profession,
            "fachgebiet": fachgebiet,
            "telematik_id": f"1-20{lanr}",
            "email": f"{last.lower()}@praxis.example",
        },
    )
    return person


def _work(
    person: Person,
    practice: Betriebsstaette,
    role: str,
    factor: str | None = None,
    hours: str | None = None,
) -> None:
    Taetigkeit.objects.get_or_create(
        person=person,
        betriebsstaette=practice,
        role=role,
        defaults={
            "valid_from": _since(),
            "anrechnungsfaktor": factor and Decimal(factor),
            "weekly_hours": hours and Decimal(hours),
        },
    )


def _user(
    username: str,
    first: str,
    last: str,
    *,
    person: Person | None = None,
    kind: str = AccountKind.MEMBER,
    must_change: bool = False,
) -> User:
    user, _ = User.objects.get_or_create(
        username=username,
        defaults={"first_name": first, "last_name": last, "person": person, "kind": kind},
    )
    user.set_password(DEMO_PASSWORD)
    user.must_change_password = must_change
    if not must_change and user.first_password_change_at is None:
        user.first_password_change_at = timezone.now() - dt.timedelta(days=700)
    user.email = user.email or f"{username}@praxis.example"
    user.save()
    return user


def _grant(user: User, practice: Betriebsstaette, *rights: str) -> None:
    for right in rights:
        PortalRight.objects.get_or_create(user=user, betriebsstaette=practice, right=right)


def build_world() -> dict:
    mvz, _ = Betriebsstaette.objects.get_or_create(
        bsnr=MVZ_BSNR,
        defaults=dict(
            name="MVZ Elbtal Dresden",
            kind=PracticeKind.MVZ,
            street="Schützenhöhe 20",
            postal_code="01099",
            city="Dresden",
            bezirk=Bezirk.DRESDEN,
            email="info@mvz-elbtal.example",
            phone="0351 000000",
        ),
    )
    bag, _ = Betriebsstaette.objects.get_or_create(
        bsnr="943000200",
        defaults=dict(
            name="Hausärztliche Gemeinschaftspraxis am Schloßteich",
            kind=PracticeKind.BAG,
            street="Straße der Nationen 12",
            postal_code="09111",
            city="Chemnitz",
            bezirk=Bezirk.CHEMNITZ,
        ),
    )
    einzel, _ = Betriebsstaette.objects.get_or_create(
        bsnr="963000300",
        defaults=dict(
            name="Praxis Dr. Neumann",
            kind=PracticeKind.EINZELPRAXIS,
            street="Karl-Liebknecht-Straße 5",
            postal_code="04107",
            city="Leipzig",
            bezirk=Bezirk.LEIPZIG,
        ),
    )
    psych_practice, _ = Betriebsstaette.objects.get_or_create(
        bsnr="963000400",
        defaults=dict(
            name="Psychotherapeutische Praxis Vogel",
            kind=PracticeKind.EINZELPRAXIS,
            street="Gohliser Straße 9",
            postal_code="04155",
            city="Leipzig",
            bezirk=Bezirk.LEIPZIG,
        ),
    )
    gf, _ = Person.objects.get_or_create(
        lanr=None,
        first_name="Thomas",
        last_name="Krüger",
        defaults={"profession": Profession.SONSTIGE, "title": ""},
    )
    leiterin = _person("300101", "01", "Anna", "Berger", fachgebiet="Allgemeinmedizin")
    weber = _person("300102", "23", "Jonas", "Weber", fachgebiet="Innere Medizin")
    schmidt = _person("300103", "01", "Lea", "Schmidt", fachgebiet="Allgemeinmedizin")
    fischer = _person("300104", "23", "Paul", "Fischer", fachgebiet="Innere Medizin")
    keller = _person(
        "300105",
        "68",
        "Maria",
        "Keller",
        title="Dipl.-Psych.",
        profession=Profession.PSYCHOTHERAPEUT,
        fachgebiet="Psychologische Psychotherapie (Verhaltenstherapie)",
    )
    hahn = _person("300201", "01", "Martin", "Hahn", fachgebiet="Allgemeinmedizin")
    richter = _person("300202", "01", "Sabine", "Richter", fachgebiet="Allgemeinmedizin")
    neumann = _person("300301", "23", "Frank", "Neumann", fachgebiet="Innere Medizin")
    vogel = _person(
        "300401",
        "68",
        "Julia",
        "Vogel",
        title="Dipl.-Psych.",
        profession=Profession.PSYCHOTHERAPEUT,
        fachgebiet="Psychologische Psychotherapie (Tiefenpsychologie)",
    )

    _work(gf, mvz, Role.TRAEGER)
    _work(leiterin, mvz, Role.AERZTLICHER_LEITER, "1.0", "40")
    _work(weber, mvz, Role.ANGESTELLT, "1.0", "38")
    _work(schmidt, mvz, Role.ANGESTELLT, "0.5", "18")
    _work(fischer, mvz, Role.ANGESTELLT, "0.75", "25")
    _work(keller, mvz, Role.ANGESTELLT, "0.5", "15")
    _work(hahn, bag, Role.VERTRAGSARZT)
    _work(richter, bag, Role.VERTRAGSARZT)
    _work(neumann, einzel, Role.VERTRAGSARZT)
    _work(vogel, psych_practice, Role.VERTRAGSARZT)

    users = {
        "traeger": _user("krueger.t", "Thomas", "Krüger", person=gf),
        "leiterin": _user("berger.a", "Anna", "Berger", person=leiterin),
        "weber": _user("weber.j", "Jonas", "Weber", person=weber),
        "schmidt": _user("schmidt.l", "Lea", "Schmidt", person=schmidt),
        "fischer": _user("fischer.p", "Paul", "Fischer", person=fischer),
        "keller": _user("keller.m", "Maria", "Keller", person=keller),
        "hahn": _user("hahn.m", "Martin", "Hahn", person=hahn),
        "richter": _user("richter.s", "Sabine", "Richter", person=richter),
        "neumann": _user("neumann.f", "Frank", "Neumann", person=neumann),
        "vogel": _user("vogel.j", "Julia", "Vogel", person=vogel),
        "neu": _user("neu.erstanmeldung", "Nina", "Neu", must_change=True),
    }
    _grant(users["traeger"], mvz, Right.BILLING, Right.DOCS_BSNR)
    _grant(users["leiterin"], mvz, Right.DOCS_BSNR)  # billing follows from the ÄL rule
    _grant(users["weber"], mvz, Right.BILLING, Right.DOCS_LANR)
    _grant(users["schmidt"], mvz, Right.DOCS_LANR)
    _grant(users["fischer"], mvz, Right.DOCS_BSNR)
    _grant(users["keller"], mvz, Right.DOCS_LANR)
    for key, practice in (
        ("hahn", bag),
        ("richter", bag),
        ("neumann", einzel),
        ("vogel", psych_practice),
    ):
        _grant(users[key], practice, Right.BILLING, Right.DOCS_BSNR, Right.DOCS_LANR)
    _grant(users["neu"], einzel, Right.BILLING)
    users["neu"].kind = AccountKind.PRAXISPERSONAL
    users["neu"].save(update_fields=["kind"])

    staff = {}
    for username, first, last, roles in (
        ("kv.register", "Ines", "Lorenz", [StaffRole.ARZTREGISTER]),
        ("kv.abrechnung", "Uwe", "Seidel", [StaffRole.ABRECHNUNG]),
        ("kv.zulassung", "Petra", "Wolf", [StaffRole.ZULASSUNG]),
    ):
        user = _user(username, first, last, kind=AccountKind.STAFF)
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        user.groups.set(Group.objects.filter(name__in=[str(r) for r in roles]))
        TOTPDevice.objects.get_or_create(
            user=user, name="Demo", defaults={"key": DEMO_TOTP_KEY_HEX, "confirmed": True}
        )
        staff[roles[0]] = user
    return {
        "mvz": mvz,
        "bag": bag,
        "einzel": einzel,
        "psych": psych_practice,
        "users": users,
        "staff": staff,
        "persons": {
            "traeger": gf,
            "leiterin": leiterin,
            "weber": weber,
            "schmidt": schmidt,
            "fischer": fischer,
            "keller": keller,
            "hahn": hahn,
            "richter": richter,
            "neumann": neumann,
            "vogel": vogel,
        },
    }
