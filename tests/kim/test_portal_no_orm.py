"""Issue 13/15: the kim views and the API read through kim/selectors.py. The foundation test
walks only views.py/api.py; this one also covers kim's views_*.py modules."""

from __future__ import annotations

from tests.foundation.test_no_orm_in_views import SRC, orm_uses


def test_kim_views_and_api_use_no_orm():
    modules = [*sorted((SRC / "kim").glob("views*.py")), *sorted((SRC / "kim").glob("api*.py"))]
    assert len(modules) >= 4
    offenders = [
        f"{path.name}:{line} ({function})" for path in modules for line, function in orm_uses(path)
    ]
    assert offenders == []
