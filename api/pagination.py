"""Page numbers, strictly: at most one `page`, a whole number (or "last"), or a 400."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class OnePageNumberPagination(PageNumberPagination):
    """DRF reads an empty `page` as page 1, and Django's QueryDict answers the last of repeated
    parameters: a client that sent either meant something else, so it is told, not guessed for."""

    def paginate_queryset(self, queryset, request, view=None):
        values = request.query_params.getlist(self.page_query_param)
        if len(values) > 1:
            raise ValidationError({self.page_query_param: ["Give one page number, not several."]})
        if values and values[0] not in self.last_page_strings and not _whole(values[0]):
            raise ValidationError({self.page_query_param: ["The page is a whole number from 1."]})
        # A whole number out of range (0, -1, past the end) is DRF's 404 "Invalid page".
        return super().paginate_queryset(queryset, request, view)


def _whole(value: str) -> bool:
    return value.lstrip("-").isdigit() and value.lstrip("-").isascii()
