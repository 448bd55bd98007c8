"""Page numbers, strictly: one `page` per request, or a 400 that says so."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class OnePageNumberPagination(PageNumberPagination):
    """Django's QueryDict answers the last of repeated parameters; a client that sent two page
    numbers meant something, so it is told rather than silently given one of them."""

    def paginate_queryset(self, queryset, request, view=None):
        if len(request.query_params.getlist(self.page_query_param)) > 1:
            raise ValidationError({self.page_query_param: ["Give one page number, not several."]})
        return super().paginate_queryset(queryset, request, view)
