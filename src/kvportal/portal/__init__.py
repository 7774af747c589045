"""The portal itself: the start page "Meine Praxis" and the demo world (``kvportal demo``).

A small top-level app above the domain apps, so that ``core`` (shared infrastructure) imports
none of accounts, audit or members (issue 13; import contract in pyproject.toml)."""
