"""Each transition is declared once (submissions/transitions.py), and the declarations are
what the state machine, the transition service, the clock, the outbox and the audit trail use."""

from __future__ import annotations

import datetime as dt

import pytest

from caisi_portal.errors import ValidationFailed
from partners.models import EVENT_LABELS
from partners.services import INTERNAL_AUDIENCE, TRANSITION_EVENTS
from submissions import effects, review_clock
from submissions.models import AUDIT_ACTION_LABELS, ModelSubmission, State
from submissions.transitions import DECLARATIONS, DECLARED
from tests.factories import move

AUDIENCES = {"developer", "reviewers", "administrators", "requester"}


def fsm_transitions():
    return list(ModelSubmission._meta.get_field("state").get_all_transitions(ModelSubmission))


def test_every_transition_of_the_state_machine_is_declared_and_nothing_else():
    names = {t.name for t in fsm_transitions()}
    assert names == set(DECLARED), "a transition without a declaration, or a declaration of nothing"
    assert len(DECLARED) == len(DECLARATIONS), "a transition declared twice"


@pytest.mark.parametrize("declaration", DECLARATIONS, ids=lambda d: d.name)
def test_the_state_machine_runs_what_is_declared(declaration):
    runs = [t for t in fsm_transitions() if t.name == declaration.name]
    sources = declaration.source if isinstance(declaration.source, tuple) else (declaration.source,)
    assert {t.source for t in runs} == set(sources)
    for t in runs:
        assert t.permission is declaration.permission
        assert [c.guard_name for c in t.conditions] == list(declaration.guards)
        assert t.custom == {"label": declaration.label, "done": declaration.done}
        targets = getattr(declaration.target, "allowed_states", None) or [declaration.target]
        assert set(getattr(t.target, "allowed_states", None) or [t.target]) == set(targets)


@pytest.mark.parametrize("declaration", DECLARATIONS, ids=lambda d: d.name)
def test_every_named_step_exists_and_every_word_is_there(declaration):
    for step in (declaration.prepare, declaration.effect, declaration.after):
        assert not step or step in effects.STEPS, step
    assert not declaration.clock or declaration.clock in review_clock.CLOCK_STEPS
    assert AUDIT_ACTION_LABELS[declaration.name] == declaration.audit_label
    assert declaration.label and declaration.audit_label
    if declaration.event:
        assert TRANSITION_EVENTS[declaration.name] == declaration.event
        assert declaration.event in EVENT_LABELS
        assert INTERNAL_AUDIENCE[declaration.event] == declaration.audience
        assert set(declaration.audience) <= AUDIENCES
    else:
        assert declaration.name not in TRANSITION_EVENTS and not declaration.audience
    for key, given in declaration.inputs.items():
        assert given.kind in ("text", "checklist", "domains", "moment", "choice", "days"), key
        assert bool(given.choices) == (given.kind == "choice"), key


def test_every_step_is_used_by_some_declaration():
    used = {step for d in DECLARATIONS for step in (d.prepare, d.effect, d.after) if step}
    assert used == set(effects.STEPS)
    assert {d.clock for d in DECLARATIONS if d.clock} == set(review_clock.CLOCK_STEPS)


# --- inputs are the declared ones, of the declared kinds ---------------------------------------


@pytest.mark.django_db
def test_an_unknown_input_is_refused_and_named(cast):
    s = cast.submission(State.CLEARED)
    with pytest.raises(ValidationFailed) as refused:
        move(s, "record_release", cast.developer, released_on=dt.date(2026, 1, 1))
    assert "'released_on'" in refused.value.message and "released_at, note" in refused.value.message
    assert refused.value.details == {"released_on": [refused.value.message]}
    s.refresh_from_db()
    assert s.state == State.CLEARED  # nothing moved


@pytest.mark.django_db
def test_a_transition_without_inputs_says_so(cast):
    s = cast.submission(State.INTAKE)
    with pytest.raises(ValidationFailed, match="Withdraw takes no inputs"):
        move(s, "withdraw", cast.developer, reason="changed our minds")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name, state, actor, data",
    [
        ("request_information", State.INTAKE, "admin", {"questions": ["a list"]}),
        ("accept", State.INTAKE, "admin", {"checklist": "all done"}),
        ("accept", State.INTAKE, "admin", {"domains": "cyber"}),
        ("record_release", State.CLEARED, "developer", {"released_at": "yesterday"}),
        ("remove_access", State.RELEASED, "admin", {"reference": 17}),
        ("remove_access", State.RELEASED, "admin", {"scope": "everything"}),
        ("reinstate_access", State.ACCESS_REMOVED, "admin", {"reason": ["a list"]}),
    ],
)
def test_an_input_of_the_wrong_kind_is_refused(cast, name, state, actor, data):
    s = cast.submission(state)
    with pytest.raises(ValidationFailed) as refused:
        move(s, name, getattr(cast, actor), **data)
    assert set(refused.value.details) == set(data)
    s.refresh_from_db()
    assert s.state == state


@pytest.mark.django_db
def test_declared_inputs_still_do_their_work(cast):
    s = cast.submission(State.CLEARED)
    move(s, "record_release", cast.developer, released_at=dt.date.today(), note="On our API.")
    s.refresh_from_db()
    assert s.state == State.RELEASED and s.release_note == "On our API."
