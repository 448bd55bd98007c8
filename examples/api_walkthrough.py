"""Carry a submission from draft to cleared through the REST API alone.

Each role uses its own token (made on its account page, or `manage.py api_token USER`):

  DEV_TOKEN=... ADMIN_TOKEN=... LEAD_TOKEN=... REVIEWER_TOKEN=... \
      python examples/api_walkthrough.py [--base http://127.0.0.1:8000] [--lead lead.carol --reviewer reviewer.bob]

Every step prints what the portal answered; any error stops the script with the
portal's own message.
"""

import argparse
import os
import sys
import time

import httpx


def client(base: str, env: str) -> httpx.Client:
    token = os.environ.get(env)
    if not token:
        sys.exit(f"Set {env} to an API token.")
    return httpx.Client(base_url=base.rstrip("/") + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def call(c: httpx.Client, method: str, path: str, **kwargs) -> dict:
    response = c.request(method, path, **kwargs)
    if response.status_code >= 400:
        error = response.json().get("error", {})
        sys.exit(f"{method} {path}: {response.status_code} {error.get('code')}: {error.get('message')}")
    return response.json()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--lead", default="lead.carol")
    parser.add_argument("--reviewer", default="reviewer.bob")
    args = parser.parse_args()
    dev, admin, lead, reviewer = (
        client(args.base, e) for e in ("DEV_TOKEN", "ADMIN_TOKEN", "LEAD_TOKEN", "REVIEWER_TOKEN")
    )

    draft = call(
        dev,
        "POST",
        "/submissions/",
        json={
            "model_name": f"Pipeline-Sim-{int(time.time())}",
            "model_version": "1.0",
            "release_channel": "api",
            "planned_release_date": "2027-06-01",
            "capabilities": "Agentic coding.",
            "intended_use": "API customers.",
            "evaluator_access": "A dedicated evaluation endpoint.",
        },
    )
    pk = draft["id"]
    print(f"draft {pk}: {draft['model_name']} ({draft['state']})")
    artifact = call(
        dev,
        "POST",
        f"/submissions/{pk}/artifacts/",
        data={"kind": "model_card"},
        files={"file": ("model-card.md", b"# Model card\nSimulated.\n", "text/markdown")},
    )
    print(f"uploaded {artifact['original_name']} sha256 {artifact['sha256'][:12]}...")
    print("submitted:", call(dev, "POST", f"/submissions/{pk}/transitions/submit/", json={})["state"])
    accepted = call(
        admin,
        "POST",
        f"/submissions/{pk}/transitions/accept/",
        json={"checklist": {"cards_received": True, "access_confirmed": True, "release_plan_confirmed": True}},
    )
    print("accepted:", accepted["state"])
    call(admin, "POST", f"/submissions/{pk}/assignments/", json={"reviewer": args.lead, "role": "lead"})
    call(admin, "POST", f"/submissions/{pk}/assignments/", json={"reviewer": args.reviewer, "role": "member"})
    print("assigned:", args.lead, "(lead),", args.reviewer)
    clock = call(dev, "GET", f"/submissions/{pk}/clock/")
    print("review clock:", clock["explanation"], "| deadline", clock["deadline_at"])
    for slug in ("cyber-offense", "chem-bio-uplift", "autonomy-ai-rnd", "safeguard-robustness"):
        result = call(
            reviewer, "POST", f"/submissions/{pk}/results/", json={"domain": slug, "score": "0.2", "threshold": "0.5"}
        )
        print(f"result {slug}: {result['outcome']}")
    print("lead may now:", [t["name"] for t in call(lead, "GET", f"/submissions/{pk}/transitions/")])
    cleared = call(
        lead,
        "POST",
        f"/submissions/{pk}/transitions/clear/",
        json={"rationale": "No domain reached its threshold.", "partner_summary": "Cleared: no threshold exceeded."},
    )
    print("determination:", cleared["state"])
    print("developer is told:", call(dev, "GET", f"/submissions/{pk}/determination/"))
    print("history:", [e["action"] for e in call(dev, "GET", f"/submissions/{pk}/history/")])


if __name__ == "__main__":
    main()
