"""Access log. Use `kvportal.audit.record(...)` inside the service's transaction."""


def record(*args, **kwargs):
    from kvportal.audit.services import record as _record

    return _record(*args, **kwargs)
