"""Content negotiation that never answers 406.

The API speaks JSON only. A client whose Accept header names nothing JSON (or cannot be parsed:
fuzzers and broken proxies send such headers) gets JSON anyway, as RFC 9110 §12.5.1 allows ("the
origin server can ... disregard the header field"), rather than a 406 no operation documents.
"""

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation


class JsonWhateverIsAccepted(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            renderer = renderers[0]
            return renderer, renderer.media_type
