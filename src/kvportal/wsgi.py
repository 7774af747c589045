import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kvportal.settings")
application = get_wsgi_application()

# issue 13: no full garbage collection over the start-up heap during requests (core/heap.py)
from kvportal.core.heap import freeze_after_startup  # noqa: E402

freeze_after_startup()
