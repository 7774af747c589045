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
    from kvportal.accounts.middleware import LOGIN_KEY

    if request is not None and hasattr(request, "session"):
        request.session[LOGIN_KEY] = time.time()  # once: the absolute limit counts from here
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
