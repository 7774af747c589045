"""Account and rights services. Every write is audited in the same transaction.

Seed 000: rights per person × BSNR; holders may delegate only rights they hold that are
delegable, and withdraw them at any time. Seed 001: one-time initial passwords by post,
forced change at first login."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import unicodedata
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from kvportal import audit
from kvportal.accounts import rules, scope
from kvportal.accounts.constants import AccountKind, Right, StaffRole
from kvportal.accounts.models import ApiToken, PasswordHistory, PortalRight, User, hash_token
from kvportal.audit.models import Activity
from kvportal.members.models import Betriebsstaette, Person

if TYPE_CHECKING:
    from django_otp.models import Device
    from django_otp.plugins.otp_totp.models import TOTPDevice

_ALPHABET_LOWER = "abcdefghijkmnopqrstuvwxyz"  # no l: avoids confusion in letters
_ALPHABET_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, O
_DIGITS = "23456789"  # no 0, 1
_SPECIAL = "!#%+-=?"


def generate_initial_password(length: int = 14) -> str:
    """Random password that is easy to type from a letter and meets the conventions."""
    pools = [_ALPHABET_LOWER, _ALPHABET_UPPER, _DIGITS, _SPECIAL]
    chars = [secrets.choice(pool) for pool in pools]
    everything = "".join(pools)
    chars += [secrets.choice(everything) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def _username_base(first_name: str, last_name: str) -> str:
    text = f"{last_name}.{first_name[:1]}" if first_name else last_name
    text = text.replace("ß", "ss").replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    text = unicodedata.normalize("NFKD", text.casefold())
    text = re.sub(r"[^a-z0-9.]", "", "".join(c for c in text if not unicodedata.combining(c)))
    return text[:20] or "nutzer"


def unique_username(first_name: str, last_name: str) -> str:
    base = _username_base(first_name, last_name)
    candidate, n = base, 1
    while User.objects.filter(username=candidate).exists():
        n += 1
        candidate = f"{base}{n}"
    return candidate


def _require_registry_staff(actor: User | None) -> None:
    if actor is not None and not scope.is_staff_role(actor, StaffRole.ARZTREGISTER):
        raise PermissionDenied("Nur das Arztregister darf das.")


@transaction.atomic
def issue_initial_password(*, actor: User | None, user: User) -> str:
    """A new one-time password (invalidates any earlier one); returned once, stored hashed.
    KV accounts get one only from the account administration."""
    _require_may_administer(actor, user)
    password = generate_initial_password()
    user.set_password(password)
    user.must_change_password = True
    user.initial_password_expires_at = timezone.now() + dt.timedelta(
        days=settings.INITIAL_PASSWORD_VALIDITY_DAYS
    )
    user.save(update_fields=["password", "must_change_password", "initial_password_expires_at"])
    audit.record(actor=actor, activity=Activity.PASSWORD_ISSUED, obj=user)
    return password


@transaction.atomic
def create_member_account(
    *,
    actor: User | None,
    first_name: str,
    last_name: str,
    email: str = "",
    person: Person | None = None,
    kind: AccountKind = AccountKind.MEMBER,
    username: str | None = None,
) -> tuple[User, str]:
    """Create a portal account with a one-time initial password; returns (user, password)."""
    user = User(
        username=username or unique_username(first_name, last_name),
        first_name=first_name,
        last_name=last_name,
        email=email,
        person=person,
        kind=kind,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    audit.record(actor=actor, activity=Activity.ACCOUNT_CREATED, obj=user, detail={"kind": kind})
    password = issue_initial_password(actor=actor, user=user)
    return user, password


def _require_superuser(actor: User | None) -> None:
    if actor is not None and not (actor.is_active and actor.is_superuser):
        raise PermissionDenied("Konten und Rollen der KV verwaltet nur die Kontenverwaltung.")


def is_kv_account(user: User) -> bool:
    """Accounts of the KV itself: staff flag, superuser or staff kind."""
    return bool(user.is_staff or user.is_superuser or user.kind == AccountKind.STAFF)


def _require_may_administer(actor: User | None, user: User) -> None:
    """Password, second factor, lock state of a KV account: only the account administration
    (superuser) touches them, never a staff role."""
    if actor is None or actor.is_superuser:
        return
    if is_kv_account(user):
        raise PermissionDenied("Das darf nur die Kontenverwaltung der KV.")


def _account_value(user: User, field: str):
    value = user.person_id if field == "person" else getattr(user, field)
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


@transaction.atomic
def create_kv_staff_account(
    *,
    actor: User | None,
    username: str,
    first_name: str,
    last_name: str,
    roles: list[StaffRole],
    email: str = "",
) -> tuple[User, str]:
    """A KV staff account with the given roles and a one-time initial password (forced change
    and TOTP set-up at first login); returns (user, password). Account administration only."""
    _require_superuser(actor)
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": "Dieser Nutzername ist bereits vergeben."})
    unknown = {str(r) for r in roles} - set(StaffRole.values)
    if unknown:
        raise ValidationError({"roles": f"Unbekannte Rolle: {', '.join(sorted(unknown))}"})
    user = User(
        username=username,
        first_name=first_name,
        last_name=last_name,
        email=email,
        kind=AccountKind.STAFF,
        is_staff=True,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    role_names = sorted(str(r) for r in roles)
    user.groups.set(Group.objects.filter(name__in=role_names))
    audit.record(
        actor=actor,
        activity=Activity.ACCOUNT_ADMIN,
        obj=user,
        detail={
            "created": True,
            "changes": {
                "kind": [None, AccountKind.STAFF.value],
                "is_staff": [False, True],
                "groups": [[], role_names],
            },
        },
    )
    password = issue_initial_password(actor=actor, user=user)
    return user, password


#: Account fields the account administration may change, audited old → new.
ACCOUNT_FIELDS = (
    "username",
    "first_name",
    "last_name",
    "email",
    "is_active",
    "is_staff",
    "is_superuser",
    "kind",
    "person",
    "must_change_password",
    "initial_password_expires_at",
    "notify_by_email",
)


@transaction.atomic
def update_account(
    *,
    actor: User,
    user: User,
    values: dict,
    groups: list[Group] | None = None,
    permissions: list | None = None,
) -> dict[str, list]:
    """Account and role administration (superuser only): change account fields, roles
    (groups) and single permissions; the access log gets every change old → new."""
    _require_superuser(actor)
    unknown = set(values) - set(ACCOUNT_FIELDS)
    if unknown:
        raise ValidationError(f"Diese Felder sind nicht änderbar: {', '.join(sorted(unknown))}")
    current = User.objects.select_for_update().get(pk=user.pk)
    changes: dict[str, list] = {}
    for field, value in values.items():
        before = _account_value(current, field)
        setattr(current, field, value)
        after = _account_value(current, field)
        if before != after:
            changes[field] = [before, after]
    if current.pk == actor.pk and ({"is_superuser", "is_active", "is_staff"} & set(changes)):
        raise ValidationError(
            "Die eigenen Rechte der Kontenverwaltung (aktiv, Mitarbeiter, Superuser) ändert "
            "ein anderer Superuser."
        )
    if changes:
        current.full_clean(exclude=["password"])
        current.save(update_fields=list(changes))
    if groups is not None:
        before = sorted(current.groups.values_list("name", flat=True))
        after = sorted(g.name for g in groups)
        if before != after:
            current.groups.set(groups)
            changes["groups"] = [before, after]
    if permissions is not None:

        def label(p) -> str:
            return f"{p.content_type.app_label}.{p.codename}"

        before = sorted(label(p) for p in current.user_permissions.select_related("content_type"))
        after = sorted(label(p) for p in permissions)
        if before != after:
            current.user_permissions.set(permissions)
            changes["user_permissions"] = [before, after]
    if changes:
        audit.record(
            actor=actor, activity=Activity.ACCOUNT_ADMIN, obj=current, detail={"changes": changes}
        )
    user.refresh_from_db()
    return changes


@transaction.atomic
def reset_second_factor(*, actor: User, device: Device) -> None:
    """Remove a TOTP or backup-code device (lost phone); the owner enrols anew at next login."""
    owner = device.user
    _require_superuser(actor)
    audit.record(
        actor=actor,
        activity=Activity.OTP_DISABLED,
        obj=owner,
        detail={"device": device._meta.label_lower, "name": device.name},
    )
    device.delete()


@transaction.atomic
def change_password(*, actor: User, user: User, new_password: str) -> None:
    if actor.pk != user.pk:
        raise PermissionDenied("Nur der Kontoinhaber kann sein Passwort ändern.")
    validate_password(new_password, user)  # includes PasswordHistoryValidator (no reuse)
    now = timezone.now()
    if user.has_usable_password() and not user.must_change_password:
        # keep the replaced password's hash (initial one-time passwords are not kept)
        PasswordHistory.objects.create(user=user, password=user.password, created_at=now)
        keep = max(settings.PASSWORD_HISTORY_COUNT - 1, 0)  # + the new current one
        stale = user.password_history.values_list("pk", flat=True)[keep:]
        PasswordHistory.objects.filter(pk__in=list(stale)).delete()
    user.set_password(new_password)
    user.must_change_password = False
    user.initial_password_expires_at = None
    user.password_changed_at = now
    if user.first_password_change_at is None:
        user.first_password_change_at = now
    user.save()
    audit.record(actor=actor, activity=Activity.PASSWORD_CHANGED, obj=user)


def _effective_rights_at(user: User, practice: Betriebsstaette) -> set[str]:
    return {r.value for r in Right if scope.has_right(user, practice, r)}


@transaction.atomic
def grant_right(
    *, actor: User | None, user: User, betriebsstaette: Betriebsstaette, right: Right | str
) -> PortalRight:
    """Staff (Arztregister, or the system when actor is None) grant any right; members may
    delegate to Praxispersonal only rights they hold themselves that are delegable."""
    right = Right(right)
    if actor is not None and not scope.is_staff_role(actor, StaffRole.ARZTREGISTER):
        errors = rules.delegation_errors(
            actor_is_staff_account=actor.kind != AccountKind.MEMBER,
            actor_rights=_effective_rights_at(actor, betriebsstaette),
            target_is_staff_account=user.kind == AccountKind.PRAXISPERSONAL,
            right=right,
        )
        if errors:
            raise PermissionDenied(" ".join(errors))
    if right == Right.DOCS_LANR and not (user.person is not None and user.person.lanr):
        raise ValidationError("Arztbezogene Dokumente setzen eine Person mit LANR voraus.")
    obj, created = PortalRight.objects.get_or_create(
        user=user,
        betriebsstaette=betriebsstaette,
        right=right,
        defaults={"granted_by": actor if getattr(actor, "pk", None) else None},
    )
    if created:
        audit.record(
            actor=actor,
            activity=Activity.RIGHT_GRANTED,
            obj=user,
            bsnr=betriebsstaette.bsnr,
            detail={"right": right.value, "user": user.username},
        )
    return obj


def can_withdraw(actor: User, portal_right: PortalRight) -> bool:
    if scope.is_staff_role(actor, StaffRole.ARZTREGISTER):
        return True
    return (
        actor.kind == AccountKind.MEMBER
        and portal_right.user.kind == AccountKind.PRAXISPERSONAL
        and portal_right.right in _effective_rights_at(actor, portal_right.betriebsstaette)
    )


@transaction.atomic
def revoke_right(*, actor: User, portal_right: PortalRight) -> None:
    if not can_withdraw(actor, portal_right):
        raise PermissionDenied("Sie dürfen dieses Recht nicht entziehen.")
    audit.record(
        actor=actor,
        activity=Activity.RIGHT_REVOKED,
        obj=portal_right.user,
        bsnr=portal_right.betriebsstaette.bsnr,
        detail={"right": portal_right.right, "user": portal_right.user.username},
    )
    portal_right.delete()


@transaction.atomic
def create_praxispersonal(
    *,
    actor: User,
    betriebsstaette: Betriebsstaette,
    first_name: str,
    last_name: str,
    email: str,
    rights: list[Right],
) -> tuple[User, str]:
    """A holder creates a staff account (Praxispersonal) with some of his delegable rights."""
    if not rights:
        raise ValidationError("Bitte wählen Sie mindestens ein Recht.")
    held = _effective_rights_at(actor, betriebsstaette)
    for right in rights:
        errors = rules.delegation_errors(
            actor_is_staff_account=actor.kind != AccountKind.MEMBER,
            actor_rights=held,
            target_is_staff_account=True,
            right=right,
        )
        if errors:
            raise PermissionDenied(" ".join(errors))
    user, password = create_member_account(
        actor=actor,
        first_name=first_name,
        last_name=last_name,
        email=email,
        kind=AccountKind.PRAXISPERSONAL,
    )
    for right in rights:
        grant_right(actor=actor, user=user, betriebsstaette=betriebsstaette, right=right)
    return user, password


@transaction.atomic
def deactivate_account(*, actor: User, user: User, reason: str = "") -> None:
    """Disable an account: it can no longer log in, its rights and API tokens end.
    KV accounts only by the account administration (superuser). `reason` (issue 14: staff
    confirm destructive decisions with a reason) goes into the audit event."""
    if is_kv_account(user):
        allowed = actor.is_superuser
    else:
        allowed = actor.is_superuser or (
            scope.is_staff_role(actor, StaffRole.ARZTREGISTER)
            or (
                user.kind == AccountKind.PRAXISPERSONAL
                and all(can_withdraw(actor, r) for r in user.portal_rights.all())
                and user.created_by_id == actor.pk
            )
        )
    if not allowed or actor.pk == user.pk:
        raise PermissionDenied("Sie dürfen dieses Konto nicht deaktivieren.")
    was_active = user.is_active
    user.is_active = False
    user.save(update_fields=["is_active"])
    rights = sorted(f"{r.betriebsstaette.bsnr}:{r.right}" for r in user.portal_rights.all())
    user.portal_rights.all().delete()
    tokens = user.api_tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    audit.record(
        actor=actor,
        activity=Activity.ACCOUNT_DISABLED,
        obj=user,
        detail={
            "changes": {"is_active": [was_active, False]},
            "rights_removed": rights,
            "tokens_revoked": tokens,
            **({"reason": reason} if reason else {}),
        },
    )


def _end_sessions(user: User) -> int:
    """Delete every server-side session of ``user`` (database session backend)."""
    from django.contrib.sessions.models import Session

    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    return ended


@transaction.atomic
def lock_account(*, actor: User | None, user: User) -> None:
    """Lockout (django-axes, too many failed logins): existing sessions end, active API tokens
    are revoked, and the lock is written to the access log."""
    sessions = _end_sessions(user)
    now = timezone.now()
    tokens = [t for t in user.api_tokens.filter(revoked_at__isnull=True) if t.is_active]
    for token in tokens:
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
        audit.record(
            actor=actor, activity=Activity.TOKEN_REVOKED, obj=token, detail={"reason": "locked"}
        )
    audit.record(
        actor=actor,
        activity=Activity.LOCKED,
        obj=user,
        username=user.username,
        detail={"sessions_ended": sessions, "tokens_revoked": len(tokens)},
    )


@transaction.atomic
def unlock_account(*, actor: User, user: User) -> None:
    from axes.utils import reset

    if not scope.is_kv_staff(actor):
        raise PermissionDenied("Nur Mitarbeiter der KV dürfen Konten entsperren.")
    if is_kv_account(user) and not actor.is_superuser:
        raise PermissionDenied("Konten der KV entsperrt nur die Kontenverwaltung.")
    reset(username=user.username)
    audit.record(actor=actor, activity=Activity.UNLOCKED, obj=user)


@transaction.atomic
def set_notification_preference(*, actor: User, notify_by_email: bool) -> None:
    actor.notify_by_email = notify_by_email
    actor.save(update_fields=["notify_by_email"])
    audit.record(
        actor=actor,
        activity=Activity.ACCOUNT_CHANGED,
        obj=actor,
        detail={"notify": notify_by_email},
    )


def allowed_api_scopes(user: User) -> list[str]:
    """Practice accounts: billing and documents; KV staff: the scopes of their roles."""
    from kvportal.accounts.constants import MEMBER_API_SCOPES, STAFF_API_SCOPES

    if user.kind != AccountKind.STAFF:
        return [s.value for s in MEMBER_API_SCOPES]
    return sorted({s.value for r in scope.staff_roles(user) for s in STAFF_API_SCOPES.get(r, ())})


@transaction.atomic
def create_api_token(
    *, actor: User, name: str, scopes: list[str], valid_days: int | None = 365
) -> tuple[ApiToken, str]:
    """Personal token for practice software; the raw value is returned once."""
    allowed = set(allowed_api_scopes(actor))
    if not allowed:
        raise PermissionDenied("Für Ihr Konto können keine API-Zugänge erstellt werden.")
    if not scopes or set(scopes) - allowed:
        raise ValidationError("Bitte wählen Sie mindestens einen gültigen Bereich.")
    if actor.kind == AccountKind.STAFF and valid_days:
        valid_days = min(valid_days, 90)  # staff tokens bypass TOTP: keep them short-lived
    raw = "kvp_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=actor,
        name=name.strip() or "API-Zugang",
        prefix=raw[:12],
        token_hash=hash_token(raw),
        scopes=sorted(set(scopes)),
        expires_at=timezone.now() + dt.timedelta(days=valid_days) if valid_days else None,
    )
    audit.record(actor=actor, activity=Activity.TOKEN_CREATED, obj=token)
    return token, raw


def record_token_use(*, token: ApiToken) -> None:
    """Bookkeeping of an API call: when the token was last used (no access-log entry of its
    own: the call itself is logged by the view)."""
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())


@transaction.atomic
def revoke_api_token(*, actor: User, token: ApiToken) -> None:
    if token.user_id != actor.pk and not scope.is_kv_staff(actor):
        raise PermissionDenied("Dieser API-Zugang gehört Ihnen nicht.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(actor=actor, activity=Activity.TOKEN_REVOKED, obj=token)


# --- second factor (TOTP enrolment) -----------------------------------------------------------


@transaction.atomic(durable=True)
def totp_enrolment_device(*, actor: User) -> TOTPDevice:
    """The user's unconfirmed TOTP device (created on first call) whose secret he scans."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=actor, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=actor, name="Authenticator", confirmed=False)
    return device


@transaction.atomic(durable=True)
def confirm_totp_device(*, actor: User, device: TOTPDevice, token: str) -> bool:
    """Security: the second factor counts only after the first correct code from the app.
    Returns False for a wrong code (django-otp's throttling counts it, committed)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=actor)
    if not device.verify_token(token.strip()):
        return False
    device.confirmed = True
    device.save()
    audit.record(actor=actor, activity=Activity.OTP_ENABLED, obj=actor)
    return True
