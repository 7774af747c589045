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

    app = Celery("kvportal-ci", broker=BROKER, backend=BROKER)
    app.conf.task_always_eager = False

    @app.task(name="kvportal.ci.add")
    def add(a, b):
        return a + b

    with start_worker(app, perform_ping_check=False, pool="solo", shutdown_timeout=10):
        assert add.delay(20, 22).get(timeout=20) == 42
