"""Settings of the processes the fault tests start and kill: production settings plus the
test-only slow check (BILLING_CHECK_TEST_DELAY seconds per 64 KiB read) and a short lease."""

import os

from kvportal.settings import *  # noqa: F403

BILLING_CHECK_TEST_DELAY = float(os.environ.get("FAULTS_CHECK_DELAY", "0.3"))
BILLING_CHECK_LEASE_SECONDS = int(os.environ.get("FAULTS_LEASE_SECONDS", "4"))
KVPORTAL_RECOVER_EVERY = int(os.environ.get("KVPORTAL_RECOVER_EVERY", "2"))
KVPORTAL_OUTBOX_BACKOFF_SECONDS = int(os.environ.get("FAULTS_OUTBOX_BACKOFF_SECONDS", "1"))
KVPORTAL_OUTBOX_LEASE_SECONDS = int(os.environ.get("FAULTS_OUTBOX_LEASE_SECONDS", "4"))
