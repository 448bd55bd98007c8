"""Scenario files (seeds/scenarios/*.yaml): read safely, checked field by field.

Only plain YAML is read (no tags that build objects). A mistake is reported as
`file:line: field: what is wrong`, and nothing is created from a file with a mistake.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from django.conf import settings

from accounts.roles import Role
from submissions.models import SlaKind

SCENARIO_DIR = Path(settings.BASE_DIR) / "seeds" / "scenarios"
PLAYER_ROLES = {
    Role.DEVELOPER_STAFF,
    Role.REVIEWER,
    Role.LEAD_REVIEWER,
    Role.ADMINISTRATOR,
    Role.TRUSTED_PARTNER,
}
KINDS = {"developer", "trusted_partner", "review_office"}
AGREEMENTS = {"signed", "negotiating", "none"}
CHANNELS = {"open_weights", "api", "closed_product"}
START_STATES = ["draft", "intake", "evaluation", "cleared", "released"]
CLEARANCES = {"UNCLASSIFIED", "CUI", "SECRET"}
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
STANDARD_TAGS = {"tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")}


class ScenarioError(Exception):
    def __init__(self, path, line, field, message):
        self.path, self.line, self.field, self.message = path, line, field, message
        super().__init__(f"{path}:{line}: {field}: {message}")


@dataclass
class Scenario:
    path: Path
    data: dict

    @property
    def slug(self) -> str:
        return self.data["slug"]

    @property
    def name(self) -> str:
        return self.data["name"]


class _Reader:
    """Turns the YAML node tree into plain data, remembering each value's line."""

    def __init__(self, path: Path):
        self.path = path
        self.lines: dict[tuple, int] = {}

    def error(self, where: tuple, message: str):
        line = self.lines.get(where)
        probe = where
        while line is None and probe:
            probe = probe[:-1]
            line = self.lines.get(probe)
        raise ScenarioError(self.path.name, line or 1, _field(where), message)

    def read(self, node, where=()):
        self.lines[where] = node.start_mark.line + 1
        if node.tag not in STANDARD_TAGS:
            self.error(where, f"the tag {node.tag} is not allowed (plain values, lists and mappings only)")
        if isinstance(node, yaml.MappingNode):
            out = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                self.lines[(*where, key)] = key_node.start_mark.line + 1
                if key in out:
                    self.error((*where, key), "appears twice")
                out[key] = self.read(value_node, (*where, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.read(item, (*where, i)) for i, item in enumerate(node.value)]
        return yaml.SafeLoader("").construct_object(node)


def _field(where: tuple) -> str:
    out = ""
    for part in where:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


def load(path: Path) -> Scenario:
    """Read and check one scenario file; ScenarioError names the file, line and field."""
    path = Path(path)
    reader = _Reader(path)
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ScenarioError(path.name, (mark.line + 1) if mark else 1, "(file)", exc.problem or str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(path.name, 1, "(file)", f"cannot be read: {exc}") from None
    if root is None:
        raise ScenarioError(path.name, 1, "(file)", "is empty")
    data = reader.read(root)
    _check(reader, data)
    return Scenario(path=path, data=data)


def available() -> list[Scenario]:
    return [load(p) for p in sorted(SCENARIO_DIR.glob("*.yaml"))]


def by_slug(slug: str) -> Scenario:
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        scenario = load(path)
        if scenario.slug == slug:
            return scenario
    raise ScenarioError(f"{slug}.yaml", 1, "slug", f"no scenario called {slug!r} in seeds/scenarios/")


# --- the checks --------------------------------------------------------------------------------


def _check(r: _Reader, data):
    if not isinstance(data, dict):
        r.error((), "must be a mapping of fields")
    _known(r, (), data, {"name", "slug", "summary", "start", "speed", "duration_days", "objectives",
                          "organizations", "players", "submissions", "injects"})  # fmt: skip
    _text(r, ("name",), data)
    _slug(r, ("slug",), data)
    _text(r, ("summary",), data, required=False)
    start = data.get("start")
    if isinstance(start, str):
        try:
            start = dt.datetime.fromisoformat(start)
        except ValueError:
            r.error(("start",), "must be a date and time, e.g. 2026-12-01T09:00:00Z")
    if not isinstance(start, dt.datetime) or start.tzinfo is None:
        r.error(("start",), "must be a date and time with a time zone, e.g. 2026-12-01T09:00:00Z")
    data["start"] = start.astimezone(dt.UTC).isoformat()
    _number(r, ("speed",), data, 1, 10080, required=False)
    _number(r, ("duration_days",), data, 1, 120, integer=True)

    objectives = _list(r, ("objectives",), data)
    objective_keys = set()
    for i, obj in enumerate(objectives):
        _known(r, ("objectives", i), obj, {"key", "text", "sla"})
        _slug(r, ("objectives", i, "key"), obj)
        _text(r, ("objectives", i, "text"), obj)
        # An objective tied to a service level is scored from the review clocks as well.
        _choice(r, ("objectives", i, "sla"), obj, set(SlaKind.values), required=False)
        if obj["key"] in objective_keys:
            r.error(("objectives", i, "key"), f"{obj['key']!r} is used twice")
        objective_keys.add(obj["key"])

    orgs = {}
    for i, org in enumerate(_list(r, ("organizations",), data)):
        where = ("organizations", i)
        _known(r, where, org, {"slug", "name", "kind", "agreement", "review_window_days"})
        _slug(r, (*where, "slug"), org)
        _text(r, (*where, "name"), org)
        _choice(r, (*where, "kind"), org, KINDS)
        if org["kind"] == "developer":
            _choice(r, (*where, "agreement"), org, AGREEMENTS)
            _number(r, (*where, "review_window_days"), org, 1, 90, integer=True, required=False)
        if org["slug"] in orgs:
            r.error((*where, "slug"), f"{org['slug']!r} is used twice")
        orgs[org["slug"]] = org
    if not any(o["kind"] == "review_office" for o in orgs.values()):
        r.error(("organizations",), "needs a review_office organization for the office's players")

    players = {}
    for i, player in enumerate(_list(r, ("players",), data)):
        where = ("players", i)
        _known(r, where, player, {"username", "name", "role", "organization", "clearance"})
        _text(r, (*where, "username"), player)
        if not USERNAME.match(player["username"]):
            r.error((*where, "username"), "lower-case letters, digits, dots, hyphens and underscores only")
        _text(r, (*where, "name"), player)
        _choice(r, (*where, "role"), player, PLAYER_ROLES)
        _choice(r, (*where, "organization"), player, set(orgs))
        _choice(r, (*where, "clearance"), player, CLEARANCES, required=False)
        if player["username"] in players:
            r.error((*where, "username"), f"{player['username']!r} is used twice")
        players[player["username"]] = player

    for i, sub in enumerate(_list(r, ("submissions",), data, required=False)):
        where = ("submissions", i)
        _known(r, where, sub, {"organization", "by", "model_name", "model_version", "release_channel",
                               "planned_release_day", "capabilities", "state", "lead", "reviewers"})  # fmt: skip
        _choice(r, (*where, "organization"), sub, {s for s, o in orgs.items() if o["kind"] == "developer"})
        _choice(r, (*where, "by"), sub, {u for u, p in players.items() if p["organization"] == sub["organization"]})
        _text(r, (*where, "model_name"), sub)
        _text(r, (*where, "model_version"), sub)
        _choice(r, (*where, "release_channel"), sub, CHANNELS)
        _number(r, (*where, "planned_release_day"), sub, 0, 365, integer=True)
        _text(r, (*where, "capabilities"), sub, required=False)
        _choice(r, (*where, "state"), sub, set(START_STATES))
        if START_STATES.index(sub["state"]) >= START_STATES.index("evaluation"):
            leads = {u for u, p in players.items() if p["role"] == Role.LEAD_REVIEWER}
            _choice(r, (*where, "lead"), sub, leads)
            if not any(p["role"] == Role.ADMINISTRATOR for p in players.values()):
                r.error((*where, "state"), "a submission past intake needs an administrator player to accept it")
        for j, name in enumerate(sub.get("reviewers") or []):
            if name not in players or players[name]["role"] not in (Role.REVIEWER, Role.LEAD_REVIEWER):
                r.error((*where, "reviewers", j), f"{name!r} is not a reviewer player")

    numbers = set()
    targets = {*players, *PLAYER_ROLES}
    for i, inject in enumerate(_list(r, ("injects",), data)):
        where = ("injects", i)
        _known(r, where, inject, {"number", "day", "hour", "from", "to", "delivery", "subject", "content",
                                  "expected_action", "objective"})  # fmt: skip
        _number(r, (*where, "number"), inject, 1, 999, integer=True)
        if inject["number"] in numbers:
            r.error((*where, "number"), f"inject {inject['number']} is numbered twice")
        numbers.add(inject["number"])
        _number(r, (*where, "day"), inject, 0, data["duration_days"], integer=True)
        _number(r, (*where, "hour"), inject, 0, 23, integer=True)
        _text(r, (*where, "from"), inject)
        _choice(r, (*where, "to"), inject, targets)
        _choice(r, (*where, "delivery"), inject, {"portal", "email"})
        for name in ("subject", "content", "expected_action"):
            _text(r, (*where, name), inject)
        _choice(r, (*where, "objective"), inject, objective_keys)


def _known(r, where, value, allowed):
    if not isinstance(value, dict):
        r.error(where, "must be a mapping of fields")
    for key in value:
        if key not in allowed:
            r.error((*where, key), f"is not a field here (expected one of: {', '.join(sorted(allowed))})")


def _list(r, where, data, required=True):
    value = data.get(where[-1])
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        r.error(where, "must be a list with at least one entry" if required else "must be a list")
    return value


def _text(r, where, data, required=True):
    value = data.get(where[-1])
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.strip():
        r.error(where, "is required (text)" if value is None else "must be text")


def _slug(r, where, data):
    _text(r, where, data)
    if not SLUG.match(data[where[-1]]):
        r.error(where, "lower-case letters, digits and hyphens only")


def _number(r, where, data, low, high, *, integer=False, required=True):
    value = data.get(where[-1])
    if value is None and not required:
        return
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        kind = "a whole number" if integer else "a number"
        r.error(where, f"must be {kind} from {low} to {high}" + ("" if value is not None else " (missing)"))


def _choice(r, where, data, allowed, required=True):
    value = data.get(where[-1])
    if value is None and not required:
        return
    if value not in allowed:
        shown = ", ".join(sorted(str(a) for a in allowed)) or "(none defined)"
        r.error(where, f"{value!r} is not one of: {shown}" if value is not None else f"is required (one of: {shown})")
