"""Schemathesis against the live schema: every operation, bounded examples, signed in.

Each response is checked: no 5xx, a documented status code, a body that matches the
schema, the declared content type. Runs in-process (WSGI) on the test database; one test
per operation and role (so pytest-xdist's workers share them), each a Hypothesis run with
positive and negative (invalid) inputs. `make test` draws FUZZ_EXAMPLES examples of each
kind (3 by default, the quick run); `make fuzz`, which CI runs too, draws 25.
"""

import copy
import functools
import os

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from api.services import api_token_issue
from submissions.models import ModelSubmission, State
from tests.built_once import shared
from tests.factories import Cast

EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "3"))
ROLES = ["admin", "developer", "reviewer"]
SERVED_SCHEMA: list[dict] = []


@functools.cache
def operation_labels() -> tuple[str, ...]:
    """Every operation of the schema, as schemathesis labels them ("GET /api/v1/...")."""
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    methods = ("get", "put", "post", "patch", "delete")
    return tuple(f"{m.upper()} {path}" for path, item in paths.items() for m in methods if m in item)


def submission_reads() -> list[str]:
    """The GET operations on one submission's parts (`/api/v1/submissions/{id}/<part>/`)."""
    prefix = "GET /api/v1/submissions/{id}/"
    return [label for label in operation_labels() if label.startswith(prefix) and "{" not in label[len(prefix) :]]


@pytest.fixture
def live_schema(db):
    # As Django's own test client does: a request must not close the test's connection.
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    # A handler built now sees the test's settings (middleware reads them when built). The
    # schema it serves is read once per process (drf-spectacular takes seconds to generate it).
    app = WSGIHandler()
    if not SERVED_SCHEMA:
        SERVED_SCHEMA.append(schemathesis.openapi.from_wsgi("/api/schema/", app).raw_schema)
    schema = schemathesis.openapi.from_dict(copy.deepcopy(SERVED_SCHEMA[0]))
    schema.app, schema.location = app, "/api/schema/"
    yield schema
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def portfolio_built(django_db_setup, django_db_blocker):
    """Data for the calls to land on, built once for the module; each test runs in a savepoint."""
    from tests.built_once import rows_built_once

    def build():
        cast = Cast()
        cast.submission(State.EVALUATION)
        cast.submission(State.CLEARED)
        cast.submission(State.INFORMATION_REQUESTED)
        return cast

    with rows_built_once(django_db_blocker, build) as cast:
        yield cast


@pytest.fixture
def portfolio(request, portfolio_built):
    return shared(request, portfolio_built)


# Refusals the schema cannot state (each operation's description says them, beside its 400), so
# valid data may be refused on these, and only these:
# - a draft, when the organization already has one for that model and version (one live
#   submission each);
# - an artifact whose file is not PDF, Markdown, plain text, JSON or CSV, read from its name and
#   content (a `format: binary` cannot say which bytes);
# - names of rows that must exist in the caller's world, which are the office's data: a trusted
#   partner's organization (and its webhook's host must resolve), a joint invitation's allied
#   institute, the conflict check's reviewer and organizations, a finding's evaluation domain.
#   Hypothesis draws strings from the source code's own constants, so a new identifier anywhere
#   in the code can become such a name;
# - a capacity scenario's plans and work times, lines of "domains: share", its arrivals, a list of
#   12 numbers, and clearance and plan shares that must each add up to 100 (the scenario form's rules).
# The release gate is checked in full: its names refuse a NUL character, which its schema now says.
EXCLUDED_CHECKS = {
    "POST /api/v1/capacity-scenarios/": [positive_data_acceptance],
    "POST /api/v1/trusted-partners/": [positive_data_acceptance],
    "POST /api/v1/joint-invitations/": [positive_data_acceptance],
    "GET /api/v1/conflict-check/": [positive_data_acceptance],
    "POST /api/v1/submissions/": [positive_data_acceptance],
    "POST /api/v1/submissions/{id}/artifacts/": [positive_data_acceptance],
    "POST /api/v1/submissions/{id}/findings/": [positive_data_acceptance],
}


def fuzz(operation, key, modes=(GenerationMode.POSITIVE, GenerationMode.NEGATIVE), path_parameters=None) -> list[str]:
    failures = []
    headers = {"Authorization": f"Bearer {key}"}
    for mode in modes:

        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case):
            case.call_and_validate(headers=headers, excluded_checks=EXCLUDED_CHECKS.get(case.operation.label))

        try:
            run()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            failures.append(f"{operation.label} ({mode.value}): {str(exc)[:1500]}")
    return failures


def test_every_operation_is_fuzzed():
    """The operations are read from the schema itself: a new one is fuzzed without being listed."""
    labels = operation_labels()
    assert len(labels) >= 30
    assert set(EXCLUDED_CHECKS) <= set(labels), set(EXCLUDED_CHECKS) - set(labels)
    # Valid data may be refused only where the operation states the rule that refuses it.
    stated = {label for label, _, words in REFUSED_IN_A_FULL_FUZZ if words}
    assert set(EXCLUDED_CHECKS) <= stated, set(EXCLUDED_CHECKS) - stated


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("label", operation_labels())
def test_api_conforms_to_its_schema(live_schema, portfolio, label, who):
    operation = live_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the schema the API serves"
    key = api_token_issue(user=getattr(portfolio, who), name="schemathesis")[1]
    failures = fuzz(operation, key)
    if label in submission_reads():
        # Drawn at random, a submission's id names none (404): its parts are read from a real one
        # too, so that their answers are checked against the schema.
        in_evaluation = ModelSubmission.objects.get(state=State.EVALUATION)
        failures += fuzz(operation, key, modes=[GenerationMode.POSITIVE], path_parameters={"id": in_evaluation.pk})
    assert not failures, "\n\n".join(failures)


def test_only_collections_are_sent_in_pages():
    """A collection (`/api/v1/submissions/`) is sent in pages; an object's parts (a submission's
    history, an endpoint's deliveries) are short lists sent whole, and the schema says so (an
    array, no `page` parameter), or a generated client breaks on the first list it reads."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    paged = {}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            answer = operation.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {})
            if answer.get("schema", {}).get("$ref", "").startswith("#/components/schemas/Paginated"):
                paged[f"{method.upper()} {path}"] = any(p["name"] == "page" for p in operation["parameters"])
    assert paged, "no collection is paged"
    wrongly = sorted(label for label in paged if not label.startswith("GET ") or "{" in label)
    assert wrongly == [], f"documented as pages, sent whole: {wrongly}"
    assert all(paged.values()), "a paged collection must take a `page` parameter"


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("label", submission_reads())
def test_a_submissions_parts_are_answered_as_the_schema_says(live_schema, portfolio, label, who):
    """Fuzzing names submissions that do not exist (404), so it rarely reads a real one's parts:
    here each part of each submission of the portfolio is read, and the answer checked against
    the served schema (its status, content type and body). A client generated from the schema
    reads these lists as they are sent."""
    operation = live_schema.find_operation_by_label(label)
    key = api_token_issue(user=getattr(portfolio, who), name="schema")[1]
    statuses = []
    for submission in ModelSubmission.objects.order_by("pk"):
        case = operation.Case(path_parameters={"id": submission.pk}, headers={"Authorization": f"Bearer {key}"})
        response = case.call()
        statuses.append(response.status_code)
        case.validate_response(
            response, checks=[status_code_conformance, content_type_conformance, response_schema_conformance]
        )
    if who == "admin":
        assert 200 in statuses, f"{label}: the office's administrator read none of it ({statuses})"


# Requests a full fuzz (every check, as an administrator, issue 30) sent as valid by the schema and
# the API refused: each is now either invalid by the schema, or refused by a rule the operation's
# description (or its documented 400) states. (label, body, None: the schema refuses the body; else
# the words that state the rule)
REFUSED_IN_A_FULL_FUZZ = [
    # Unknown fields are refused, not ignored: the bodies are closed.
    ("PATCH /api/v1/submissions/{id}/", {"model_name": "Gemini-Sim", "colour": "red"}, None),
    ("POST /api/v1/submissions/{id}/transitions/{name}/", {"relased_at": "2026-01-01T00:00:00Z"}, None),
    # A decimal is at least one digit; an empty, "-" or "." one is refused.
    ("POST /api/v1/submissions/{id}/results/", {"score": "", "version": 1}, None),
    # What the portal computes from a score is refused when sent.
    ("POST /api/v1/submissions/{id}/results/", {"score": "0.9", "version": 1, "outcome": "below_threshold"}, None),
    ("POST /api/v1/benchmark-versions/{id}/levels/", {"reason": "Revised.", "elevated": "-"}, None),
    # The reason for an agreement's change is required.
    ("POST /api/v1/agreements/{id}/status/", {"action": "sign"}, None),
    ("POST /api/v1/agreements/{id}/status/", {"action": "sign", "note": ""}, None),
    # An organization is named by a slug, never an empty one.
    ("POST /api/v1/trusted-partners/", {"organization": "", "event_types": []}, None),
    # Rules a schema cannot state, stated in words.
    ("POST /api/v1/benchmark-versions/{id}/levels/", {"reason": "Revised."}, "at least one"),
    ("POST /api/v1/submissions/{id}/transitions/{name}/", {}, "request_information: questions"),
    ("POST /api/v1/submissions/{id}/assignments/", {"reviewer": "lead.carol"}, "already assigned"),
    ("POST /api/v1/submissions/{id}/access-orders/", {"reference": "R\u0091"}, "control characters"),
    ("POST /api/v1/submissions/{id}/access-orders/", {"issued_on": "2999-01-01"}, "dated in the future"),
    ("POST /api/v1/joint-invitations/{id}/withdraw/", None, "already answered or withdrawn"),
    ("POST /api/v1/deliveries/{id}/redeliver/", None, "still being tried"),
    ("POST /api/v1/trusted-partners/", {"organization": "x", "event_types": []}, "host name"),
    ("GET /api/v1/conflict-check/", None, "must exist"),
    ("POST /api/v1/capacity-scenarios/", None, "add up to 100"),
    ("POST /api/v1/joint-invitations/", None, "no allied institute"),
    ("POST /api/v1/submissions/{id}/findings/", None, "domain"),
    ("POST /api/v1/submissions/", None, "one live submission"),
    ("POST /api/v1/submissions/{id}/artifacts/", None, "PDF, Markdown, plain text, JSON or CSV"),
    ("POST /api/v1/submissions/{id}/artifacts/", None, "an empty one"),
    ("PATCH /api/v1/trusted-partners/{id}/", None, "host name"),
    ("POST /api/v1/agreements/{id}/status/", None, "one left undecided"),
    ("POST /api/v1/submissions/{id}/plan/", None, "must be in the review's plan"),
]


@pytest.mark.parametrize(("label", "body", "stated"), REFUSED_IN_A_FULL_FUZZ)
def test_what_the_api_refuses_the_schema_says(label, body, stated):
    import jsonschema

    schema = SchemaGenerator().get_schema(request=None, public=True)
    method, path = label.split(" ", 1)
    operation = schema["paths"][path][method.lower()]
    if stated is None:
        ref = operation["requestBody"]["content"]["application/json"]["schema"]
        document = {"components": schema["components"], "allOf": [ref]}
        assert not jsonschema.Draft7Validator(document).is_valid(body), f"{label}: the schema accepts {body}"
    else:
        assert "400" in operation["responses"], f"{label}: 400 is not documented"
        refusal = operation["responses"]["400"]["description"]
        words = f"{operation.get('summary', '')} {operation.get('description', '')} {refusal}".lower()
        assert stated.lower() in words, f"{label}: neither the description nor the 400 says {stated!r}"
