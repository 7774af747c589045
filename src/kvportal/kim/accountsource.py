# gemSpec_FD_KOMLE: only registered accounts (or deregistered ones within the grace period)
# may log in and receive mail; passwords are compared in constant time (Django hashers); the
# web mailbox logs in with a short-lived token signed for that one address (kim/submission.py).
"""The Fachdienst's account source backed by the portal's KIM accounts
(protocol `kvportal.kim.fachdienst.AccountSource`, /work/notes/kim-accountsource.md).

The servers call both methods from worker threads (`asyncio.to_thread`): plain ORM."""

from __future__ import annotations

import logging
import os

import django
from django.apps import apps as _apps

if not _apps.ready and not _apps.loading:
    # named by the Django-free `kvportal kim …` commands (`--accounts module:factory`, Dovecot's
    # checkpassword): the portal's settings are set up here, not in the Django-free loader
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kvportal.settings")
    django.setup()

from django.contrib.auth.hashers import check_password as django_check_password
from django.contrib.auth.hashers import make_password
from django.db import close_old_connections, connection

from kvportal.kim import submission
from kvportal.kim.models import AccountState, KimAccount

log = logging.getLogger(__name__)

#: states in which an account exists for the mail server (requested/refused ones do not)
KNOWN_STATES = (AccountState.REGISTERED, AccountState.DEREGISTERING, AccountState.DEREGISTERED)
_DUMMY_HASH = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = make_password("kvportal-kim-dummy")
    return _DUMMY_HASH


class PortalAccountSource:
    """`lookup` / `check_password` over `kim.KimAccount`."""

    def _get(self, address: str) -> KimAccount | None:
        if not connection.in_atomic_block:  # a long-running server thread: drop stale links
            close_old_connections()
        return KimAccount.objects.filter(
            address__iexact=(address or "").strip(), state__in=KNOWN_STATES
        ).first()

    def lookup(self, address: str):
        from kvportal.kim.fachdienst import Account, AccountLimits

        account = self._get(address)
        if account is None:
            return None
        return Account(
            address=account.address.lower(),
            limits=AccountLimits(
                max_mail_size=account.max_mail_size,
                quota=account.quota,
                data_time_to_live=account.data_time_to_live,
            ),
            active=account.usable(),
        )

    def check_password(self, address: str, password: str) -> bool:
        try:
            account = self._get(address)
            if submission.is_submission_token(password):  # the portal's web mailbox
                return (
                    account is not None
                    and account.usable()
                    and submission.check_submission_password(account.address, password)
                )
            if account is None or not account.password_hash:
                django_check_password(password, _dummy_hash())  # same work for unknown ones
                return False
            return account.usable() and django_check_password(password, account.password_hash)
        except Exception:  # the protocol: never raise for a login attempt
            log.exception("KIM account source: password check failed")
            return False
