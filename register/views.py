"""The public status register: a page and a JSON feed, no login."""

from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from . import selectors

PAGE_SIZE = 50


def _page(request):
    # NUL can never match a name, and PostgreSQL refuses it in a query: drop it.
    query = (request.GET.get("q") or "").replace("\x00", "").strip()[:100]
    page = Paginator(selectors.published_reviews(query), PAGE_SIZE).get_page(request.GET.get("page"))
    return query, page, selectors.public_rows(page.object_list)


@cache_control(public=True, max_age=60)
@require_safe
def register_page(request):
    query, page, rows = _page(request)
    return render(
        request,
        "register/register.html",
        {
            "agreements": selectors.agreements(),
            "rows": rows,
            "page": page,
            "q": query,
            "matched": selectors.agreements_matching(query),
            "checkpoints": selectors.checkpoints(),
        },
    )


@cache_control(public=True, max_age=60)
@require_safe
def register_json(request):
    query, page, rows = _page(request)

    def link(number):
        params = f"?page={number}" + (f"&q={query}" if query else "")
        return request.build_absolute_uri(reverse("register:json") + params)

    return JsonResponse(
        {
            "agreements": [
                {
                    "organization": a.organization.name,
                    "status": a.status,
                    "signed_on": a.signed_on.isoformat() if a.signed_on else None,
                }
                for a in selectors.agreements()
            ],
            "reviews": rows,
            "page": page.number,
            "pages": page.paginator.num_pages,
            "next": link(page.next_page_number()) if page.has_next() else None,
            "audit_checkpoints": selectors.checkpoints(),
            "note": "Simulated data. Lists only reviews the office chose to publish.",
        }
    )
