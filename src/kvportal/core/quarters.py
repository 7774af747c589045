"""Quarters (Abrechnungsquartale) as in KVDT (`QJJJJ`, e.g. 12026) and the portal. No Django."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    quarter: int

    def __post_init__(self) -> None:
        if not 1 <= self.quarter <= 4:
            raise ValueError(f"Quartal {self.quarter} gibt es nicht (1–4).")
        if not 1900 <= self.year <= 9999:
            raise ValueError(f"Jahr {self.year} liegt außerhalb des gültigen Bereichs.")

    @classmethod
    def parse(cls, value: str) -> Quarter:
        """Parse `QJJJJ` (KVDT, e.g. `12026`) or `Q/JJJJ` / `JJJJ-Q` (URLs and forms)."""
        text = value.strip()
        error = f"„{value}“ ist kein gültiges Quartal (z. B. 12026 oder 1/2026)."
        try:
            if len(text) == 5 and text.isdigit():
                year, quarter = int(text[1:]), int(text[0])
            elif "/" in text:
                q, y = text.split("/")
                year, quarter = int(y), int(q)
            elif "-" in text:
                y, q = text.split("-")
                year, quarter = int(y), int(q.upper().lstrip("Q"))
            else:
                raise ValueError(error)
        except ValueError as exc:
            raise ValueError(error) from exc
        return cls(year, quarter)

    @classmethod
    def of(cls, day: dt.date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, 3 * self.quarter - 2, 1)

    @property
    def end(self) -> dt.date:
        return self.next().start - dt.timedelta(days=1)

    def next(self) -> Quarter:
        return (
            Quarter(self.year + 1, 1) if self.quarter == 4 else Quarter(self.year, self.quarter + 1)
        )

    def previous(self) -> Quarter:
        return (
            Quarter(self.year - 1, 4) if self.quarter == 1 else Quarter(self.year, self.quarter - 1)
        )

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    @property
    def kvdt(self) -> str:
        """KVDT notation `QJJJJ`."""
        return f"{self.quarter}{self.year}"

    @property
    def slug(self) -> str:
        """URL notation `JJJJ-Q`."""
        return f"{self.year}-{self.quarter}"

    def __str__(self) -> str:
        return f"{self.quarter}/{self.year}"
