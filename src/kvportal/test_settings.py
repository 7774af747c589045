"""Settings for the test suite: the production settings plus test-only speed-ups
(fast password hasher, in-memory e-mail, eager tasks, a temporary var directory)."""

import os
import tempfile

os.environ.setdefault("KVPORTAL_SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("KVPORTAL_VAR_DIR", tempfile.mkdtemp(prefix="kvportal-test-"))
os.environ.setdefault("KVPORTAL_HTTPS", "0")
os.environ.setdefault("KVPORTAL_FAST_HASHER", "1")

from kvportal.settings import *  # noqa: F403
from kvportal.settings import ALLOWED_HOSTS

ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
#: tests start recovery explicitly (no daemon threads inside test transactions)
KVPORTAL_RECOVER_IN_PROCESS = False
WHITENOISE_AUTOREFRESH = True
#: the eHBA tests and the demo trust the test PKI (demo/test switch, docs/ehba.md)
EHBA_TEST_PKI = True
