"""Valid sample application data for the admission tests (synthetic persons only)."""

from __future__ import annotations

import datetime as dt

from kvportal.admission.rules.dates import SessionSlot
from kvportal.members.identifiers import make_lanr

TODAY = dt.date(2026, 11, 23)
EMPLOYEE_LANR = make_lanr("123456", "01")
APPLICANT_LANR = make_lanr("234567", "01")
PARTNER_LANRS = (make_lanr("345678", "01"), make_lanr("456789", "01"))

SESSIONS = (
    SessionSlot(dt.date(2027, 1, 13), "dresden", "aerzte"),
    SessionSlot(dt.date(2027, 2, 17), "dresden", "aerzte"),
    SessionSlot(dt.date(2027, 3, 17), "dresden", "aerzte"),
    SessionSlot(dt.date(2027, 1, 20), "dresden", "psychotherapie"),
    SessionSlot(dt.date(2027, 2, 24), "dresden", "psychotherapie"),
    SessionSlot(dt.date(2027, 1, 6), "leipzig", "aerzte"),
)


def anlage1_rows() -> list[dict]:
    return [
        {
            "start": "2015-10-01",
            "end": "2020-12-31",
            "kind": "Assistenzärztin",
            "institution": "Klinikum Musterstadt, Dresden",
            "weekly_hours": "40",
            "evidence": "arztregister",
        },
        {
            "start": "2021-01-01",
            "end": "",
            "kind": "angestellte Ärztin",
            "institution": "MVZ Elbtal, Dresden",
            "weekly_hours": "20",
            "evidence": "anlage",
        },
    ]


def valid_data(**overrides) -> dict:
    data = {
        "bezirk": "dresden",
        "applicant_kind": "mvz",
        "applicant_title": "",
        "applicant_name": "Elbtal MVZ GmbH",
        "bsnr": "951234500",
        "representative_name": "Dr. Max Mustermann",
        "representative_email": "leitung@mvz-elbtal.example",
        "mvz_name": "",
        "sitz_strasse": "Musterweg 1",
        "sitz_plz": "01067",
        "sitz_ort": "Dresden",
        "applicant_fach": "Allgemeinmedizin",
        "phone": "0351 123456",
        "email": "praxis@mvz-elbtal.example",
        "employee_title": "Dr.",
        "employee_name": "Erika Beispiel",
        "employee_lanr": EMPLOYEE_LANR,
        "employee_fach": "Allgemeinmedizin",
        "employee_schwerpunkt": "",
        "work_strasse": "Musterweg 1",
        "work_plz": "01067",
        "work_ort": "Dresden",
        "employee_email": "erika@example.org",
        "factor_from": "0.5",
        "factor_to": "0.75",
        "hours": "25",
        "hours_unit": "woche",
        "effective_date": "2027-02-01",
        "mode": "nachbesetzung",
        "nachbesetzung_name": "Dr. Hans Vorgänger",
        "related": "nein",
        "partners": [],
    }
    data.update(overrides)
    return data
