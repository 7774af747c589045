"""The web process's heap after start-up (issue 13, request path p99).

A member page allocates enough objects that Python's cyclic garbage collector runs a full
(generation 2) collection about once per hundred start pages; it scans every object alive —
Django, all apps, the URL configuration — and took ~120 ms of CPU, which alone set the p99 of
the start page and the document list. `gc.freeze()` moves the start-up heap into the permanent
generation, so later collections scan only what requests created (measured with
`benchmarks/request_cpu.py`: start page CPU p99 157 → 51 ms, documents 151 → 21 ms)."""

from __future__ import annotations

import gc


def freeze_after_startup() -> int:
    """Load the URL configuration (imports every view module), collect once, then freeze what
    is left; returns the number of frozen objects. Called once per process from `wsgi.py`."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  # the property imports the views
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
