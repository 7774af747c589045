"""Demo part of `kvportal demo`: a few billing submissions for the demo practices, made with
synthetic KVDT files from `kvportal.kvdt.generate` (no real patient data)."""

from __future__ import annotations

import datetime as dt

from django.core.files.base import ContentFile
from django.utils import timezone

from kvportal.core.quarters import Quarter


def _at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime(day.year, day.month, day.day, hour, 0))


def seed_demo(world: dict, out) -> None:
    from kvportal.billing import rules, services
    from kvportal.kvdt import generate
    from kvportal.kvdt.generator import file_name

    today = timezone.localdate()
    last = Quarter.of(today).previous()
    before = last.previous()
    users = world["users"]

    def submit(user, practice, quarter, *, cases, seed, day, inject=(), declare=False):
        content = generate(cases, seed=seed, quarter=quarter, bsnr=practice.bsnr, inject=inject)
        created = _at(day, 9)
        name = file_name(practice.bsnr, created)
        return services.receive_submission(
            actor=user,
            betriebsstaette=practice,
            quarter=quarter,
            upload=ContentFile(content, name=name),
            filename=name,
            declare=declare,
            now=_at(day, 10),
        )

    count = 0
    for quarter in (before, last):
        window = rules.default_window(quarter)
        # MVZ: the Träger's Geschäftsführer uploads, the Ärztliche Leiterin declares later
        submit(
            users["traeger"],
            world["mvz"],
            quarter,
            cases=40,
            seed=quarter.year * 10 + quarter.quarter,
            day=window.starts + dt.timedelta(days=2),
        )
        count += 1
        if quarter == before:
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
            day=window.starts + dt.timedelta(days=1),
            declare=True,
        )
        count += 1
    # Einzelpraxis: a faulty file first, then the corrected one
    window = rules.default_window(last)
    submit(
        users["neumann"],
        world["einzel"],
        last,
        cases=12,
        seed=7,
        inject=("324",),
        day=window.starts + dt.timedelta(days=3),
    )
    submit(
        users["neumann"],
        world["einzel"],
        last,
        cases=12,
        seed=8,
        day=window.starts + dt.timedelta(days=4),
    )
    count += 2
    out(f"Abrechnung: {count} Einreichungen für die Quartale {before} und {last} angelegt.")
