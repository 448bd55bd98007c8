"""50 people using the portal at once: what each role does in a working day, compressed.

Run by bench/load_run.py, which prepares the accounts (bench/load/users.json) and the
server. Each virtual person signs in through the real sign-in page, with a TOTP code
where the role needs one, then works: developer staff read their submissions and file
new ones (draft, model card, submit); reviewers read their assigned reviews; administrators
watch the dashboard, breaches and exports; partner staff and the public read the register.
Every answer that is not a success counts as an error.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import threading
from pathlib import Path

import pyotp
from locust import HttpUser, between, task

ACCOUNTS = json.loads(Path(os.environ["LOAD_USERS"]).read_text())
_pools = {role: itertools.cycle(rows) for role, rows in ACCOUNTS.items()}
_lock = threading.Lock()
SUBMISSION_LINK = re.compile(r'href="/submissions/(\d+)/"')


def next_account(role):
    with _lock:
        return next(_pools[role])


class Person(HttpUser):
    abstract = True
    wait_time = between(1, 3)
    role = ""

    def on_start(self):
        self.account = next_account(self.role)
        self.client.get("/login/", name="sign in (page)")
        r = self.client.post(
            "/login/",
            {
                "username": self.account["username"],
                "password": self.account["password"],
                "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", ""),
            },
            name="sign in",
        )
        if "/account/two-factor/verify/" in r.url:
            self.client.post(
                "/account/two-factor/verify/",
                {
                    "token": pyotp.TOTP(self.account["totp"]).now(),
                    "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", ""),
                },
                name="sign in: authenticator code",
            )
        self.submissions = SUBMISSION_LINK.findall(self.client.get("/", name="home").text)

    def post_form(self, url, data, name, files=None):
        data = {**data, "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", "")}
        return self.client.post(url, data=data, files=files, name=name)


class DeveloperStaff(Person):
    fixed_count = 20
    role = "developer"

    @task(4)
    def home(self):
        self.client.get("/", name="home")

    @task(4)
    def a_submission(self):
        if self.submissions:
            self.client.get(f"/submissions/{random.choice(self.submissions)}/", name="submission page")

    @task(1)
    def file_a_submission(self):
        self.client.get("/submissions/new/", name="new submission (page)")
        r = self.post_form(
            "/submissions/new/",
            {
                "model_name": f"Load-{self.account['username']}-{random.randrange(10**9)}",
                "model_version": "1.0",
                "release_channel": random.choice(["api", "open_weights", "closed_product"]),
                "planned_release_date": "2027-06-01",
                "capabilities": "Reasoning and code.",
                "intended_use": "API customers.",
                "evaluator_access": "A dedicated endpoint.",
            },
            "new submission",
        )
        found = re.search(r"/submissions/(\d+)/$", r.url)
        if not found:
            return
        pk = found.group(1)
        self.post_form(
            f"/submissions/{pk}/artifacts/",
            {"kind": "model_card"},
            "upload model card",
            files={"file": ("model-card.md", b"# Model card\nLoad test.\n", "text/markdown")},
        )
        self.post_form(f"/submissions/{pk}/actions/submit/", {"expected_state": "draft"}, "submit for review")
        self.submissions.append(pk)


class Reviewer(Person):
    fixed_count = 15
    role = "reviewer"

    @task(2)
    def home(self):
        self.client.get("/", name="home")

    @task(5)
    def an_assigned_review(self):
        if self.submissions:
            self.client.get(f"/submissions/{random.choice(self.submissions)}/", name="submission page")


class Administrator(Person):
    fixed_count = 5
    role = "admin"

    @task(3)
    def dashboard(self):
        self.client.get("/dashboard/", name="dashboard")

    @task(2)
    def breaches(self):
        self.client.get("/dashboard/breaches/?acknowledged=false", name="breach list")

    @task(1)
    def home(self):
        self.client.get("/", name="home")

    @task(1)
    def a_submission(self):
        if self.submissions:
            self.client.get(f"/submissions/{random.choice(self.submissions)}/", name="submission page")

    @task(1)
    def deliveries(self):
        self.client.get("/partners/deliveries/", name="partner deliveries")

    @task(1)
    def export(self):
        self.client.get("/dashboard/reports/breaches.csv", name="breach export (CSV)")


class PartnerStaff(Person):
    fixed_count = 5
    role = "partner"

    @task
    def home(self):
        self.client.get("/", name="home")

    @task
    def register(self):
        self.client.get("/register/", name="public register")


class Public(HttpUser):
    fixed_count = 5
    wait_time = between(1, 3)

    @task(2)
    def register(self):
        self.client.get("/register/", name="public register")

    @task(1)
    def register_json(self):
        self.client.get("/register/register.json", name="public register (JSON)")
