"""The public status register: a page, its JSON and an Atom feed, no login.

The JSON and the feed answer conditional requests (ETag, Last-Modified, 304): downstream
builders poll them, and most polls find nothing new.
"""

import re
from urllib.parse import quote, urlencode

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import condition, require_http_methods, require_POST, require_safe
from feedgen.feed import FeedGenerator

from caisi_portal.errors import ApplicationError
from caisi_portal.web import add_service_error, client_ip

from . import messages, selectors, services
from .forms import FollowForm, follow_choices
from .models import Subscription

FEED_ENTRIES = 50
# Characters XML cannot carry. New names refuse them (caisi_portal.text); a name stored before
# that rule must not take the whole feed down.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
NOTE = "Simulated data. Lists only reviews the office chose to publish."


def _version(request):
    """The register's version, asked once per request (the ETag and Last-Modified both need it)."""
    if not hasattr(request, "_register_version"):
        request._register_version = selectors.register_version()
    return request._register_version


def _etag(request, *args, **kwargs):
    # The answer also depends on the query (search, page) and on the host its links name. Keyed,
    # so the tag tells a poller only whether something changed, never what the seed holds.
    seed = f"{_version(request)[0]}|{request.build_absolute_uri()}"
    return salted_hmac("register.etag", seed).hexdigest()[:32]


def _last_modified(request, *args, **kwargs):
    return _version(request)[1]


conditional = condition(etag_func=_etag, last_modified_func=_last_modified)

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
    listed = selectors.agreements()
    return render(
        request,
        "register/register.html",
        {
            "agreements": listed,
            # The "Get notified" choice is a GET form (no token): this page stays publicly cacheable.
            "follow_choices": follow_choices(selectors.followable(listed)),
            "rows": rows,
            "page": page,
            "q": query,
            "matched": selectors.agreements_matching(query),
            "checkpoints": selectors.checkpoints(),
        },
    )


@cache_control(public=True, max_age=60)
@require_safe
@conditional
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
            "note": NOTE,
        }
    )


@cache_control(public=True, max_age=300)
@require_safe
@conditional
def register_feed(request):
    """The newest published reviews as Atom: what a downstream builder subscribes to."""
    page_url = request.build_absolute_uri(reverse("register:page"))
    rows = selectors.public_rows(selectors.published_reviews()[:FEED_ENTRIES])
    feed = FeedGenerator()
    feed.id(page_url)
    feed.title("CAISI Review Portal: published reviews")
    feed.subtitle(NOTE)
    feed.author({"name": "CAISI Review Portal (simulated)"})
    feed.link(href=page_url, rel="alternate")
    feed.link(href=request.build_absolute_uri(), rel="self")
    # The newest listing's time: the feed says when its content changed, nothing of the office's
    # other work.
    feed.updated((rows[0]["listed_at"] if rows else None) or _last_modified(request) or "1970-01-01T00:00:00Z")
    host = request.get_host().split(":")[0]
    # Oldest first: feedgen puts the entry added last at the top of the document.
    for row in reversed(rows):
        row = {key: _NOT_XML.sub("", value) if isinstance(value, str) else value for key, value in row.items()}
        entry = feed.add_entry()
        # Named by what is public (a developer's model and version is unique to it), never by an
        # internal id, whose numbering would tell how many reviews were never published.
        named = "/".join(quote(row[key], safe="") for key in ("organization", "model", "version"))
        entry.id(f"tag:{host},2026:register/{named}")
        entry.title(f"{row['organization']} {row['model']} {row['version']}: {row['outcome']}")
        entry.link(href=f"{page_url}?{urlencode({'q': row['model']})}")
        entry.updated(row["listed_at"])
        entry.published(row["listed_at"])
        orders = "".join(
            _NOT_XML.sub(
                "",
                f" Government order {o['reference']} ({o['authority']}, {o['issued_on']}): "
                f"{o['kind'].lower()}{', lifted' if o['lifted_at'] else ', in force'}.",
            )
            for o in row["orders"]
        )
        entry.summary(
            f"{row['outcome']} ({row['date']}). Release channel: {row['release_channel']}. "
            f"Developer: {row['organization']}.{orders}"
        )
    return HttpResponse(feed.atom_str(pretty=True), content_type="application/atom+xml; charset=utf-8")


# --- following the register: no sign-in; the links sent are the credentials ---------------------


def _client(request) -> str:
    return client_ip(request) or "unknown"


@never_cache
@require_http_methods(["GET", "POST"])
def follow(request):
    """Subscribe by email (double opt-in) or register a webhook endpoint."""
    developers = selectors.followable()
    status = 200
    if request.method == "POST":
        form = FollowForm(request.POST, developers=developers)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if data["channel"] == "email":
                    target = services.subscription_request_email(
                        address=data["email"], follow=data["follow"], client=_client(request)
                    )
                    # The same answer whether or not the address already follows this.
                    return render(
                        request, "register/follow_sent.html", {"address": data["email"].strip(), "target": target}
                    )
                subscription = services.subscription_request_webhook(
                    url=data["url"], follow=data["follow"], client=_client(request)
                )
                return render(request, "register/webhook.html", _webhook_context(subscription, show_secret=True))
            except services.Throttled as exc:
                form.add_error(None, exc.message)
                status = 429
            except ApplicationError as exc:
                add_service_error(form, exc)
        status = status if status != 200 else 400
    else:
        form = FollowForm(
            developers=developers,
            initial={"follow": request.GET.get("follow", "")[:300], "channel": request.GET.get("channel", "email")},
        )
    return render(request, "register/follow.html", {"form": form}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def follow_confirm(request, token):
    """The emailed link. Opening it shows a button (mail scanners open links); pressing it confirms, once."""
    parts = services.tokens.confirm_parts(token)
    if parts is None:
        raise Http404
    if request.method == "POST":
        outcome, subscription = services.subscription_confirm(token=token)
    else:
        subscription = Subscription.objects.select_related("organization").filter(pk=parts[0]).first()
        outcome = _confirm_state(subscription, parts[1])
    if subscription is None:
        raise Http404
    context = {"outcome": outcome, "subscription": subscription, "stop_url": messages.stop_url(subscription)}
    status = 400 if outcome in ("expired", "replaced") else 200
    return render(request, "register/confirm.html", context, status=status)


def _confirm_state(subscription, nonce) -> str:
    from caisi_portal import clock

    if subscription is None:
        return "invalid"
    if subscription.status == Subscription.Status.ACTIVE:
        return "already"
    if subscription.status != Subscription.Status.PENDING or subscription.confirm_nonce != nonce:
        return "replaced"
    if subscription.confirm_expires_at <= clock.now():
        return "expired"
    return "ready"


# One-click unsubscribe (RFC 8058): a mail program POSTs here with no cookie and no token but the
# link's own, which is the credential (signed, unguessable). The page's button POSTs here too.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def follow_stop(request, token):
    subscription = services.subscription_for_stop(token)
    if subscription is None:
        raise Http404
    stopped = None
    if request.method == "POST":
        stopped = services.subscription_stop(subscription=subscription)
    context = _webhook_context(subscription, show_secret=False) | {"stopped": stopped}
    return render(request, "register/stop.html", context)


@never_cache
@require_POST
def webhook_verify(request, token):
    """Send the challenge now and show what the endpoint answered."""
    subscription = services.subscription_for_stop(token)
    if subscription is None or subscription.channel != Subscription.Channel.WEBHOOK:
        raise Http404
    error, status = "", 200
    try:
        services.subscription_verify_webhook(subscription=subscription, client=_client(request))
    except services.Throttled as exc:
        error, status = exc.message, 429
    except ApplicationError as exc:
        error, status = exc.message, 400
    subscription.refresh_from_db()
    context = _webhook_context(subscription, show_secret=False) | {"error": error, "tried": True}
    return render(request, "register/webhook.html", context, status=status)


def _webhook_context(subscription, *, show_secret: bool) -> dict:
    return {
        "subscription": subscription,
        "stop_url": messages.stop_url(subscription),
        "token": services.tokens.stop_token(subscription),
        # Shown on the page that answers the registration, and never again.
        "secret": subscription.secret if show_secret else "",
    }
