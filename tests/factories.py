"""Shared factories for the registry and accounts (synthetic data only)."""

from __future__ import annotations

import datetime as dt

import factory

from kvportal.accounts.constants import AccountKind, Right
from kvportal.accounts.models import PortalRight, User
from kvportal.members.constants import Bezirk, PracticeKind, Profession, Role
from kvportal.members.identifiers import make_lanr
from kvportal.members.models import Betriebsstaette, Person, Taetigkeit

PASSWORD = "Test-Passwort!2026"


class BetriebsstaetteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Betriebsstaette

    bsnr = factory.Sequence(lambda n: f"95{n + 10000:05d}00")
    name = factory.Sequence(lambda n: f"Praxis {n}")
    kind = PracticeKind.EINZELPRAXIS
    street = "Teststraße 1"
    postal_code = "01067"
    city = "Dresden"
    bezirk = Bezirk.DRESDEN

    class Params:
        mvz = factory.Trait(kind=PracticeKind.MVZ, name=factory.Sequence(lambda n: f"MVZ {n}"))
        bag = factory.Trait(kind=PracticeKind.BAG, name=factory.Sequence(lambda n: f"BAG {n}"))


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    lanr = factory.Sequence(lambda n: make_lanr(f"{400000 + n:06d}", "01"))
    title = "Dr. med."
    first_name = factory.Faker("first_name", locale="de_DE")
    last_name = factory.Sequence(lambda n: f"Testarzt{n}")
    profession = Profession.ARZT
    fachgebiet = "Allgemeinmedizin"
    email = factory.LazyAttribute(lambda p: f"{p.last_name.lower()}@praxis.example")


class TaetigkeitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Taetigkeit

    person = factory.SubFactory(PersonFactory)
    betriebsstaette = factory.SubFactory(BetriebsstaetteFactory)
    role = Role.VERTRAGSARZT
    valid_from = dt.date(2020, 1, 1)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"nutzer{n}")
    first_name = "Erika"
    last_name = factory.Sequence(lambda n: f"Muster{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@praxis.example")
    kind = AccountKind.MEMBER
    first_password_change_at = factory.LazyFunction(
        lambda: dt.datetime(2024, 1, 5, 10, 0, tzinfo=dt.UTC)
    )
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def grant(user: User, practice: Betriebsstaette, *rights: Right) -> None:
    for right in rights:
        PortalRight.objects.get_or_create(user=user, betriebsstaette=practice, right=right)


def doctor_account(practice: Betriebsstaette, role: Role = Role.VERTRAGSARZT, *rights: Right, **kw):
    """A doctor working at `practice` in `role` with an account holding `rights` there."""
    person = PersonFactory(**kw)
    TaetigkeitFactory(person=person, betriebsstaette=practice, role=role)
    user = UserFactory(person=person, first_name=person.first_name, last_name=person.last_name)
    grant(user, practice, *rights)
    return user


def kv_staff(*roles: str, username: str | None = None) -> User:
    """A KV staff account with a confirmed TOTP device (tests log in with force_login +
    `verify_otp(client, user)`)."""
    from django.contrib.auth.models import Group

    user = UserFactory(
        username=username or factory.Faker("user_name").evaluate(None, None, {"locale": None}),
        kind=AccountKind.STAFF,
        is_staff=True,
    )
    user.groups.set(Group.objects.filter(name__in=roles))
    return user
