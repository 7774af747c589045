"""A real round trip through the Redis broker (CI sets KVPORTAL_TEST_BROKER_URL when Redis
answers); in-process execution is covered everywhere else."""

import os

import pytest

BROKER = os.environ.get("KVPORTAL_TEST_BROKER_URL")


@pytest.mark.skipif(not BROKER, reason="kein Redis-Broker konfiguriert (KVPORTAL_TEST_BROKER_URL)")
@pytest.mark.django_db(transaction=True)
def test_task_round_trip_through_redis():
    from celery import Celery
    from celery.contrib.testing.worker import start_worker

    from kvportal.celery import app as portal_app

    # not the current app: the portal's shared tasks must keep running in-process for the
    # tests that follow in this worker (a current CI app sent them to Redis instead)
    app = Celery("kvportal-ci", broker=BROKER, backend=BROKER, set_as_current=False)
    app.conf.task_always_eager = False

    @app.task(name="kvportal.ci.add")
    def add(a, b):
        return a + b

    try:
        with start_worker(app, perform_ping_check=False, pool="solo", shutdown_timeout=10):
            assert add.delay(20, 22).get(timeout=20) == 42
    finally:
        portal_app.set_current()
        portal_app.set_default()
    from celery import current_app

    assert current_app.main == portal_app.main
