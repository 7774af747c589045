"""Login, logout, failed logins and lockouts go to the access log (seed 000); a lockout ends
the account's sessions and API tokens at once."""

import time

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from kvportal import audit
from kvportal.audit.models import Activity


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs):
    from kvportal.accounts.middleware import GATE_KEY, LOGIN_KEY

    if request is not None and hasattr(request, "session"):
        request.session[LOGIN_KEY] = time.time()  # once: the absolute limit counts from here
        request.session.pop(GATE_KEY, None)  # the gate is decided afresh for every login
    audit.record(actor=user, activity=Activity.LOGIN, obj=user)


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs):
    if user is not None and not getattr(request, "_kvportal_idle_logout", False):
        audit.record(actor=user, activity=Activity.LOGOUT, obj=user)


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    from kvportal.accounts.models import User

    username = (credentials or {}).get("username", "")[:150]
    user = User.objects.filter(username=username).first()
    audit.record(actor=user, activity=Activity.LOGIN_FAILED, username=username)


@receiver(user_locked_out)
def on_locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    from kvportal.accounts.models import User
    from kvportal.accounts.services import lock_account

    user = User.objects.filter(username=(username or "")[:150]).first()
    if user is not None:
        lock_account(actor=None, user=user)


def on_device_change(sender, instance, **kwargs):
    """Enrolling, confirming, ending or removing a second factor re-opens the gate decision of
    every session of its user (accounts/middleware.py)."""
    from kvportal.accounts.middleware import devices_changed

    if instance.user_id:
        devices_changed(instance.user_id)


def _connect_device_signals() -> None:
    # per concrete device class: a receiver for every sender would switch off Django's fast
    # deletes for all models (purges)
    from django.db.models.signals import post_delete, post_save
    from django_otp import device_classes

    for model in device_classes():
        uid = f"kvportal_gate_{model._meta.label_lower}"
        post_save.connect(on_device_change, sender=model, dispatch_uid=uid)
        post_delete.connect(on_device_change, sender=model, dispatch_uid=uid)


_connect_device_signals()


def on_rights_change(sender, **kwargs):
    """A right, a Tätigkeit (Ärztlicher-Leiter rule) or a staff group changed inside the
    request: the per-request memo of accounts/scope.py is read afresh."""
    from kvportal.accounts.scope import forget_rights

    forget_rights()


def _connect_rights_signals() -> None:
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from kvportal.accounts.models import PortalRight, User
    from kvportal.members.models import Taetigkeit

    for model in (PortalRight, Taetigkeit):
        uid = f"kvportal_scope_{model._meta.label_lower}"
        post_save.connect(on_rights_change, sender=model, dispatch_uid=uid)
        post_delete.connect(on_rights_change, sender=model, dispatch_uid=uid)
    m2m_changed.connect(
        on_rights_change, sender=User.groups.through, dispatch_uid="kvportal_scope_groups"
    )


_connect_rights_signals()
