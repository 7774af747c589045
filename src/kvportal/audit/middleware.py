from kvportal.audit.context import meta_from_request, reset_meta, set_meta


class RequestContextMiddleware:
    """Makes IP address and browser of the current request available to `audit.record`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = set_meta(meta_from_request(request))
        try:
            return self.get_response(request)
        finally:
            reset_meta(token)
