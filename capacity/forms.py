"""The scenario form: the pages and the API read a scenario through it, so both refuse the same
input with the same words."""

from __future__ import annotations

import re

from django import forms

from accounts.models import Clearance

MAX_HEADCOUNT = 200
MAX_HEADCOUNT_POINTS = 40
MAX_REPLICATIONS = 500
MAX_ARRIVALS_PER_MONTH = 1000
# Simulated submissions in one run, over every replication and headcount: three or four minutes
# of a worker at most (bench/capacity.py measures 80 to 110 microseconds a submission on these
# shared machines), well under the task's own limit (capacity/tasks.py).
MAX_SIMULATED = 2_000_000

MSG_HEADCOUNT = f"A headcount is a whole number of reviewers from 1 to {MAX_HEADCOUNT}."
MSG_RANGE = f"The headcounts tried run from the smallest to the largest, at most {MAX_HEADCOUNT_POINTS} of them."
MSG_REPLICATIONS = f"Replications are capped at {MAX_REPLICATIONS}: more narrow the intervals very little."
MSG_ARRIVALS = (
    "Give 12 numbers of submissions per month separated by commas (January first), or one number for every "
    f"month; each from 0 to {MAX_ARRIVALS_PER_MONTH}."
)
MSG_PLAN_SHARES = (
    "The plans' shares add up to {total}, not 100: give each plan how many submissions out of 100 have it."
)
MSG_BUDGET = (
    "This scenario would simulate {n:,} submissions in all (replications x headcounts x arrivals); at most "
    f"{MAX_SIMULATED:,}. Try fewer replications or a narrower range of headcounts."
)
LEVELS = [(Clearance.UNCLASSIFIED, "unclassified"), (Clearance.CUI, "cui"), (Clearance.SECRET, "secret")]
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _number(value: str) -> float:
    try:
        n = float(value)
    except ValueError:
        raise forms.ValidationError(f"“{value}” is not a number.") from None
    if n != n or n in (float("inf"), float("-inf")):
        raise forms.ValidationError(f"“{value}” is not a number.")
    return n


def _percent(label):
    return forms.IntegerField(label=label, min_value=0, max_value=100)


class ScenarioForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="To find it again and compare it with others.")
    arrivals = forms.CharField(
        label="Submissions per month",
        max_length=400,
        help_text="12 numbers, January first, or one for every month. Filled in from the last 12 months.",
    )
    plans = forms.CharField(
        label="Plan mix",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        help_text="One plan a line: its domains (short names, separated by commas), a colon, and how many "
        "submissions out of 100 have it; the shares add up to 100. Example: cyber, bio: 60 and, on the next line, "
        "cyber: 40",
    )
    work_days = forms.CharField(
        label="Work per domain (reviewer-days)",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        help_text="One domain a line: its short name, a colon, the days of one reviewer's work. Example: cyber: 3",
    )
    work_spread = forms.FloatField(
        label="Spread of work and waiting times",
        min_value=0,
        max_value=3,
        initial=0.5,
        help_text="0: every review takes exactly the mean; 0.5: most take from half to one and a half times it.",
    )
    intake_days = forms.FloatField(label="Days to an intake decision", min_value=0, max_value=60)
    information_share = _percent("Submissions asked for information at intake (out of 100)")
    answer_days = forms.FloatField(label="Days a developer takes to answer", min_value=0, max_value=365)
    needs_unclassified = _percent("Submissions any reviewer may take (out of 100)")
    needs_cui = _percent("Submissions needing CUI clearance (out of 100)")
    needs_secret = _percent("Submissions needing SECRET clearance (out of 100)")
    headcount = forms.IntegerField(
        label="Reviewers (headcount)",
        min_value=1,
        max_value=MAX_HEADCOUNT,
        error_messages={"min_value": MSG_HEADCOUNT, "max_value": MSG_HEADCOUNT, "invalid": MSG_HEADCOUNT},
    )
    reviewers_unclassified = _percent("Reviewers without a clearance (out of 100)")
    reviewers_cui = _percent("Reviewers cleared for CUI (out of 100)")
    reviewers_secret = _percent("Reviewers cleared for SECRET (out of 100)")
    leave_days = forms.FloatField(label="Days of leave per reviewer per year", min_value=0, max_value=120)
    window_days = forms.IntegerField(label="Review window (days)", min_value=1, max_value=30)
    headcount_min = forms.IntegerField(
        label="Smallest headcount tried",
        min_value=1,
        max_value=MAX_HEADCOUNT,
        error_messages={"min_value": MSG_HEADCOUNT, "max_value": MSG_HEADCOUNT, "invalid": MSG_HEADCOUNT},
    )
    headcount_max = forms.IntegerField(
        label="Largest headcount tried",
        min_value=1,
        max_value=MAX_HEADCOUNT,
        error_messages={"min_value": MSG_HEADCOUNT, "max_value": MSG_HEADCOUNT, "invalid": MSG_HEADCOUNT},
    )
    target = forms.FloatField(
        label="Target: windows elapsed (out of 100 submissions)",
        min_value=0,
        max_value=100,
        initial=5,
        help_text="The recommended headcount is the smallest whose upper 95 % bound stays at or under this.",
    )
    replications = forms.IntegerField(
        min_value=2,
        max_value=MAX_REPLICATIONS,
        initial=50,
        error_messages={"max_value": MSG_REPLICATIONS, "min_value": "At least 2 replications, for an interval."},
        help_text=f"Simulated years per headcount (2 to {MAX_REPLICATIONS}).",
    )
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=1, help_text="The same seed, the same years.")

    # Shown under their own headings (templates/_form_fields.html).
    fieldsets = [
        ("Submissions", "How many arrive and what their review involves.",
         ["arrivals", "plans", "work_days", "work_spread", "needs_unclassified", "needs_cui", "needs_secret"]),
        ("Intake and information requests", "", ["intake_days", "information_share", "answer_days", "window_days"]),
        ("Reviewers", "", ["headcount", "reviewers_unclassified", "reviewers_cui", "reviewers_secret", "leave_days"]),
        ("The question", "", ["headcount_min", "headcount_max", "target", "replications", "seed"]),
    ]  # fmt: skip

    def grouped_fields(self) -> list[tuple[str, str, list]]:
        grouped = [(legend, help_text, [self[n] for n in names]) for legend, help_text, names in self.fieldsets]
        return [("", "", [self["name"]]), *grouped]

    def clean_arrivals(self):
        parts = [p.strip() for p in self.cleaned_data["arrivals"].split(",") if p.strip()]
        try:
            values = [_number(p) for p in parts]
        except forms.ValidationError:
            raise forms.ValidationError(MSG_ARRIVALS) from None
        if len(values) == 1:
            values *= 12
        if len(values) != 12 or any(v < 0 or v > MAX_ARRIVALS_PER_MONTH for v in values):
            raise forms.ValidationError(MSG_ARRIVALS)
        return values

    def clean_plans(self):
        plans = []
        for number, line in enumerate(self.cleaned_data["plans"].splitlines(), 1):
            if not line.strip():
                continue
            domains, sep, share = line.rpartition(":")
            slugs = sorted({d.strip().lower() for d in domains.split(",") if d.strip()})
            if not sep or not slugs or not all(_SLUG.match(s) for s in slugs):
                raise forms.ValidationError(f"Line {number}: write the plan's domains, a colon, and its share.")
            value = _number(share.strip())
            if value <= 0 or value > 100:
                raise forms.ValidationError(f"Line {number}: a plan's share is more than 0 and at most 100.")
            plans.append([slugs, value])
        if not plans:
            raise forms.ValidationError("Give at least one plan.")
        # Shares that do not add up are a mistake to point out, not to rescale: "cyber: 60"
        # alone is more likely a line forgotten than a plan every submission has.
        total = sum(share for _, share in plans)
        if round(total, 6) != 100:
            raise forms.ValidationError(MSG_PLAN_SHARES.format(total=f"{round(total, 2):g}"))
        return plans

    def clean_work_days(self):
        work = {}
        for number, line in enumerate(self.cleaned_data["work_days"].splitlines(), 1):
            if not line.strip():
                continue
            slug, sep, days = line.partition(":")
            slug = slug.strip().lower()
            if not sep or not _SLUG.match(slug):
                raise forms.ValidationError(f"Line {number}: write a domain's short name, a colon, and the days.")
            value = _number(days.strip())
            if value < 0 or value > 365:
                raise forms.ValidationError(f"Line {number}: the days of work are from 0 to 365.")
            work[slug] = value
        return work

    def clean(self):
        data = super().clean()
        for prefix, label in (("needs", "submissions"), ("reviewers", "reviewers")):
            names = [f"{prefix}_{suffix}" for _, suffix in LEVELS]
            if all(n in data for n in names) and sum(data[n] for n in names) != 100:
                self.add_error(names[0], f"The {label}' clearance shares must add up to 100.")
        if "plans" in data and "work_days" in data:
            missing = sorted({d for domains, _ in data["plans"] for d in domains} - set(data["work_days"]))
            if missing:
                self.add_error("work_days", f"Say how long the work takes for: {', '.join(missing)}.")
        low, high = data.get("headcount_min"), data.get("headcount_max")
        if low is not None and high is not None and not (low <= high and high - low < MAX_HEADCOUNT_POINTS):
            self.add_error("headcount_max", MSG_RANGE)
        elif not self.errors and data.get("replications") and data.get("arrivals"):
            points = len(self.headcounts())
            simulated = int(data["replications"] * points * sum(data["arrivals"]))
            if simulated > MAX_SIMULATED:
                self.add_error("replications", MSG_BUDGET.format(n=simulated))
        return data

    def headcounts(self) -> list[int]:
        """The headcounts simulated: the range, and the scenario's own headcount with them."""
        d = self.cleaned_data
        return sorted(set(range(d["headcount_min"], d["headcount_max"] + 1)) | {d["headcount"]})

    def inputs(self) -> dict:
        """The scenario as saved (JSON): what services.scenario_inputs turns into a simulation."""
        d = dict(self.cleaned_data)
        d.pop("name")
        d["headcounts"] = self.headcounts()
        return d


def shares_of_100(counts: list[float]) -> list[int]:
    """Counts as whole shares out of 100 that add up to 100 (the largest remainders round up),
    none of them 0: a plan seen is a plan the form keeps."""
    total = sum(counts)
    exact = [100 * c / total for c in counts]
    shares = [int(e) for e in exact]
    by_remainder = sorted(range(len(counts)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in by_remainder[: 100 - sum(shares)]:
        shares[i] += 1
    for i, share in enumerate(shares):
        if share == 0:
            shares[i] = 1
            shares[shares.index(max(shares))] -= 1
    return shares


def initial_from(fit: dict, *, name: str) -> dict:
    """The form's starting values: the office's last 12 months (capacity.selectors.history_fit)."""
    arrivals = fit["arrivals"]
    shares = fit["reviewer_clearance"]
    total = sum(shares.values()) or 1
    percent = {level: round(100 * shares.get(level, 0) / total) for level, _ in LEVELS}
    percent[Clearance.UNCLASSIFIED] += 100 - sum(percent.values())  # rounding: the rest to the first
    headcount = fit["headcount"]
    return {
        "name": name,
        "arrivals": ", ".join(f"{a:g}" for a in arrivals),
        # The history counts submissions per plan; the form asks for shares out of 100.
        "plans": "\n".join(
            f"{', '.join(domains)}: {share}"
            for (domains, _), share in zip(fit["plans"], shares_of_100([n for _, n in fit["plans"]]), strict=True)
        ),
        "work_days": "\n".join(f"{slug}: {days:g}" for slug, days in fit["work_days"].items()),
        "work_spread": 0.5,
        "intake_days": fit["intake_days"],
        "information_share": min(100, fit["information_share"]),
        "answer_days": fit["answer_days"],
        "needs_unclassified": 70,
        "needs_cui": 20,
        "needs_secret": 10,
        "headcount": headcount,
        **{f"reviewers_{suffix}": percent[level] for level, suffix in LEVELS},
        "leave_days": 25,
        "window_days": fit["window_days"],
        "headcount_min": max(1, headcount - 5),
        "headcount_max": min(MAX_HEADCOUNT, max(headcount - 5, 1) + 15),
        "target": 5,
        "replications": 50,
        "seed": 1,
    }
