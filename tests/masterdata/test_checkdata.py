"""The portal's KVDT check uses the imported master data (`billing/checkdata.py`) and says
which checks could not run and why ("Stammdatei … für das Quartal … nicht eingespielt").

The master files are synthetic, built in the published formats (SDKT schema kts, SDPLZ xDT)
from the values of a generated file; quarters come from the clock the test runs under."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.utils import timezone

from kvportal.billing import testruns
from kvportal.billing.checkdata import for_check
from kvportal.core.quarters import Quarter
from kvportal.kvdt import generate, iter_records, validate_file
from kvportal.kvdt.masterdata import MasterData
from kvportal.masterdata.services import import_directory
from tests.billing.conftest import employed, practice, upload  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

BSNR = "951234500"


def quarter_under_test() -> Quarter:
    return Quarter.of(timezone.localdate()).previous()


def kvdt(quarter: Quarter, bsnr: str = BSNR) -> bytes:
    return generate(12, seed=3, quarter=quarter, bsnr=bsnr)


def values(data: bytes, fk: str) -> list[str]:
    return sorted({v for r in iter_records(io.BytesIO(data)) for v in r.get_all(fk)})


def xdt(fk: str, value: str) -> bytes:
    return b"%03d%s%s\r\n" % (len(value) + 9, fk.encode(), value.encode("ascii"))


def write_set(directory, quarter: Quarter, *, vknrs, postcodes) -> None:
    """SDKT (kts) and SDPLZ files of `quarter` in the published formats."""
    entries = "".join(
        f'<kostentraeger V="{v}"><gueltigkeit V="{quarter.start.isoformat()}.."/>'
        f'<ik_liste><ik V="10{v}01"/></ik_liste></kostentraeger>'
        for v in vknrs
    )
    (directory / f"SDKT_Q{quarter.quarter}_{quarter.year}.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<kostentraeger_liste xmlns="urn:ehd/kts/001">{entries}</kostentraeger_liste>',
        encoding="utf-8",
    )
    plz = [xdt("8000", "plz0"), xdt("9111", quarter.kvdt), xdt("9212", "PLZ1016.01")]
    for p in postcodes:
        plz += [xdt("8000", "2150"), xdt("0150", p)]
    plz.append(xdt("8000", "plz9"))
    (directory / f"PLZ74_1.{quarter.quarter}{quarter.year % 100:02d}").write_bytes(b"".join(plz))


def check(data: bytes, quarter: Quarter):
    return validate_file(
        io.BytesIO(data),
        expected_quarter=quarter,
        today=quarter.end + dt.timedelta(days=1),
        masterdata=for_check(quarter),
    )


def test_without_import_the_protocol_names_each_missing_master_file():
    q = quarter_under_test()
    assert for_check(q).available(q) == set()
    report = check(kvdt(q), q)
    assert {"201", "478", "783"} <= set(report.not_checked)
    reasons = " ".join(report.not_checked_reasons)
    assert (
        f"Stammdatei Kostenträger (SDKT) für das Quartal {q} nicht eingespielt: "
        "Regeln 201, 202, 210, 734, 763, KVDT-RQL2." in reasons
    )
    assert f"Stammdatei PLZ (SDPLZ) für das Quartal {q} nicht eingespielt: Regeln 478, 783." in (
        reasons
    )
    assert report.to_dict()["not_checked_reasons"] == report.not_checked_reasons


def test_imported_master_data_is_used_and_breaks_on_unknown_values(tmp_path):
    q = quarter_under_test()
    data = kvdt(q)
    vknrs, postcodes = values(data, "4104"), values(data, "3112") + values(data, "3121")
    write_set(tmp_path, q, vknrs=vknrs, postcodes=postcodes)
    import_directory(None, directory=tmp_path)
    clean = check(data, q)
    assert clean.status <= 1 and not {"201", "478", "783"} & set(clean.not_checked)
    reasons = " ".join(clean.not_checked_reasons)
    assert "(SDKT)" not in reasons and "(SDPLZ)" not in reasons
    assert f"Stammdatei EBM/GO (SDEBM) für das Quartal {q} nicht eingespielt" in reasons
    # the next import of the quarter lacks one VKNR: rule 201 breaks for its cases
    write_set(tmp_path, q, vknrs=vknrs[1:], postcodes=postcodes)
    import_directory(None, directory=tmp_path)
    broken = check(data, q)
    new = {m.rule for m in broken.messages} - {m.rule for m in clean.messages}
    assert new == {"201"}
    assert all(f"„{vknrs[0]}“" in m.text for m in broken.messages if m.rule == "201")


def test_master_data_of_an_earlier_quarter_stays_valid(tmp_path):
    q = quarter_under_test()
    data = kvdt(q)
    write_set(tmp_path, q.previous(), vknrs=values(data, "4104"), postcodes=[])
    import_directory(None, directory=tmp_path)
    assert for_check(q).available(q) == {"sdkt", "plz"}
    assert for_check(q.previous().previous()).available(q) == set()
    assert isinstance(for_check(None), MasterData)


def test_the_portal_test_run_reports_what_was_not_checked(
    employed,  # noqa: F811
    practice,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    q = quarter_under_test()
    name = f"Z01{practice.bsnr}_05.04.2026_10.30.con"
    with django_capture_on_commit_callbacks(execute=True):
        run = testruns.receive_test_run(
            actor=employed,
            betriebsstaette=practice,
            quarter=q,
            upload=upload(kvdt(q, practice.bsnr), name),
            filename=name,
        )
    run.refresh_from_db()
    assert run.state == "done"
    reasons = " ".join(run.report["not_checked_reasons"])
    assert f"Kostenträger (SDKT) für das Quartal {q} nicht eingespielt" in reasons


def test_the_test_run_page_names_what_was_not_checked(
    client,
    employed,  # noqa: F811
    practice,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    """Issue 12: "the protocol says plainly which checks could not run and why" — on the page."""
    from django.urls import reverse

    q = quarter_under_test()
    name = f"Z01{practice.bsnr}_05.04.2026_10.30.con"
    with django_capture_on_commit_callbacks(execute=True):
        run = testruns.receive_test_run(
            actor=employed,
            betriebsstaette=practice,
            quarter=q,
            upload=upload(kvdt(q, practice.bsnr), name),
            filename=name,
        )
    client.force_login(employed)
    html = client.get(reverse("billing:test_run_detail", args=[run.pk])).content.decode()
    assert 'id="not-checked"' in html
    assert f"Kostenträger (SDKT) für das Quartal {q} nicht eingespielt" in html
