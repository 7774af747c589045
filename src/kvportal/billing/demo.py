"""Demo part of `kvportal demo`: a few billing submissions for the demo practices, made with
synthetic KVDT files from `kvportal.kvdt.generate` (no real patient data)."""

from __future__ import annotations

import datetime as dt

from django.core.files.base import ContentFile
from django.utils import timezone

from kvportal.core.quarters import Quarter


def _received_at(quarter: Quarter, days_after: int, step: int) -> dt.datetime:
    """When a demo file of `quarter` arrived: `days_after` days into the following quarter,
    never before the file's creation day (the day after the quarter, rule 304) and never in
    the future. `step` orders files of the same day."""
    created = timezone.make_aware(
        dt.datetime.combine(quarter.end + dt.timedelta(days=1), dt.time())
    )
    target = created + dt.timedelta(days=days_after, hours=9, minutes=step)
    latest = timezone.now() - dt.timedelta(minutes=10 - step)
    return max(created + dt.timedelta(seconds=step), min(target, latest))


def seed_demo(world: dict, out) -> None:
    from kvportal.billing import services
    from kvportal.kvdt import generate
    from kvportal.kvdt.generator import file_name

    last = Quarter.of(timezone.localdate()).previous()
    before = last.previous()
    users = world["users"]

    def submit(user, practice, quarter, *, cases, seed, day, step, inject=(), declare=False):
        content = generate(cases, seed=seed, quarter=quarter, bsnr=practice.bsnr, inject=inject)
        assert isinstance(content, bytes)  # without `out` the file comes back as bytes
        received = _received_at(quarter, day, step)
        name = file_name(practice.bsnr, timezone.localtime(received))
        return services.receive_submission(
            actor=user,
            betriebsstaette=practice,
            quarter=quarter,
            upload=ContentFile(content, name=name),
            filename=name,
            declare=declare,
            now=received,
        )

    count = 0
    for quarter in (before, last):
        # MVZ: the Träger's Geschäftsführer uploads, the Ärztliche Leiterin declares later
        mvz_file = submit(
            users["traeger"],
            world["mvz"],
            quarter,
            cases=40,
            seed=quarter.year * 10 + quarter.quarter,
            day=1,
            step=1,
        )
        count += 1
        if quarter == before:
            # a declaration refers to an accepted file: check it now (the queued check that
            # runs after the commit then finds it done)
            services.run_check(submission_id=mvz_file.pk)
            services.give_declaration(
                actor=users["leiterin"], betriebsstaette=world["mvz"], quarter=quarter
            )
        # BAG: the partner uploads and declares at once
        submit(
            users["hahn"],
            world["bag"],
            quarter,
            cases=25,
            seed=quarter.quarter + 100,
            day=0,
            step=2,
            declare=True,
        )
        count += 1
    # Einzelpraxis: a faulty file first, then the corrected one
    submit(
        users["neumann"],
        world["einzel"],
        last,
        cases=12,
        seed=7,
        inject=("324",),
        day=2,
        step=3,
    )
    submit(
        users["neumann"],
        world["einzel"],
        last,
        cases=12,
        seed=8,
        day=3,
        step=4,
    )
    count += 2
    out(f"Abrechnung: {count} Einreichungen für die Quartale {before} und {last} angelegt.")
