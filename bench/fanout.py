"""Fan-out: one clear announced to N webhook partners, against a plain loop of signed POSTs.

  DATABASE_URL=postgres://postgres@127.0.0.1:5432/caisi_faults_bench_fanout .venv/bin/python bench/fanout.py \
      [--partners 1000 10000] [--slow]

For each N it recreates the database (the name must contain "bench"), makes N trusted partners
whose webhooks all point at one local receiver, and clears a submission with 2 worker
processes running (the portal's own `celery worker`, on a private Redis). The receiver answers
204 over keep-alive HTTP/1.1 and verifies every request's Standard Webhooks signature with the
partner's secret; it records (partner, webhook-id).

- **floor**: 2 threads, each signing the same body for each partner and POSTing it to the same
  receiver over one keep-alive connection: the least work that puts N signed events in N hands.
- **portal**: from the lead's clear (the transition, its outbox rows, the queued tasks) until
  the receiver holds every partner's event and every delivery row reads delivered.
- **clear's transaction**: how long the lead waits for the clear itself.

Checked in the same run: none lost (every partner got the event), none doubled (one webhook-id
per partner), every signature valid. With `--slow`, one more partner's endpoint takes 10 s to
answer: the others' deliveries must not wait for it (their time is reported apart).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from faults import common

SLOW_SECONDS = 10.0


class VerifyingReceiver:
    """Every partner's endpoint: verifies each signature, records (partner, webhook-id)."""

    def __init__(self):
        self.secrets: dict[str, str] = {}
        self.lock = threading.Lock()
        self.calls: list[tuple[str, str]] = []
        self.bad_signatures = 0
        receiver = self
        from standardwebhooks.webhooks import Webhook

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers speak

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                partner = self.path.rsplit("/", 1)[-1]
                if partner == "slow":
                    time.sleep(SLOW_SECONDS)
                ok = True
                secret = receiver.secrets.get(partner)
                try:
                    Webhook(secret).verify(body, dict(self.headers))
                except Exception:
                    ok = False
                with receiver.lock:
                    receiver.calls.append((partner, self.headers.get("webhook-id", "")))
                    receiver.bad_signatures += 0 if ok else 1
                self.send_response(204 if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = common._Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, partner: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook/{partner}"

    def seen(self) -> int:
        with self.lock:
            return len(self.calls)

    def reset(self):
        with self.lock:
            self.calls.clear()
            self.bad_signatures = 0

    def stop(self):
        self.server.shutdown()


def floor(receiver: VerifyingReceiver, partners: list[tuple[str, str]], body: str) -> float:
    """2 threads, each a keep-alive client, signing and POSTing one event per partner."""
    import datetime as dt
    import uuid

    import httpx
    from standardwebhooks.webhooks import Webhook

    def run(share):
        with httpx.Client(timeout=30) as client:
            for slug, secret in share:
                msg_id = f"msg_{uuid.uuid4().hex}"
                now = dt.datetime.now(dt.UTC)
                headers = {
                    "content-type": "application/json",
                    "webhook-id": msg_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": Webhook(secret).sign(msg_id, now, body),
                }
                client.post(receiver.url(slug), content=body, headers=headers)

    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(run, [partners[0::2], partners[1::2]]))
    return time.perf_counter() - started


def one_size(n: int, *, slow: bool, env: dict, database_url: str) -> dict:
    from django.db import connections

    connections.close_all()
    common.recreate_database(database_url)
    common.migrate()

    from partners.models import Delivery, PartnerEventType, TrustedPartner
    from submissions.models import Organization
    from tests.factories import Cast, move, record_all_results

    receiver = VerifyingReceiver()
    orgs = Organization.objects.bulk_create(
        Organization(name=f"Partner {i}", slug=f"p{i}", kind=Organization.Kind.TRUSTED_PARTNER) for i in range(n)
    )
    if slow:
        orgs.append(Organization.objects.create(name="Slow partner", slug="slow", kind="trusted_partner"))
    TrustedPartner.objects.bulk_create(
        TrustedPartner(organization=org, webhook_url=receiver.url(org.slug), event_types=[PartnerEventType.CLEARED])
        for org in orgs
    )
    receiver.secrets = dict(TrustedPartner.objects.values_list("organization__slug", "webhook_secret"))
    cast = Cast()
    s = cast.submission("evaluation")
    record_all_results(s, cast.reviewer)

    body = '{"type":"submission.cleared","data":{"model_name":"Bench"}}'
    fast_partners = [(slug, secret) for slug, secret in receiver.secrets.items() if slug != "slow"]
    floor(receiver, fast_partners[:50], body)  # warm-up
    receiver.reset()
    floor_s = floor(receiver, fast_partners, body)
    assert receiver.seen() == len(fast_partners) and receiver.bad_signatures == 0
    receiver.reset()

    connections.close_all()
    worker = common.Worker(env, concurrency=2).start()
    time.sleep(4)  # the worker connects to Redis and PostgreSQL before the clock starts
    try:
        started = time.perf_counter()
        move(s, "clear", cast.lead)
        clear_s = time.perf_counter() - started
        last = [time.perf_counter()]

        def progressed():
            if os.environ.get("FANOUT_PROGRESS") and time.perf_counter() - last[0] > 2:
                last[0] = time.perf_counter()
                print(f"  {last[0] - started:5.1f} s: {receiver.seen()} received", flush=True)
            return receiver.seen() >= len(fast_partners)

        common.wait_until(progressed, timeout=1200, interval=0.05)
        fast_done_s = time.perf_counter() - started

        def all_recorded():
            return not Delivery.objects.filter(channel="webhook").exclude(status="delivered").exists()

        common.wait_until(all_recorded, timeout=600, interval=0.1)
        all_done_s = time.perf_counter() - started
    finally:
        worker.stop()
        receiver.stop()
    ids: dict[str, set] = {}
    for partner, msg_id in receiver.calls:
        ids.setdefault(partner, set()).add(msg_id)
    expected = {slug for slug, _ in receiver.secrets.items()}
    return {
        "partners": n,
        "floor_s": floor_s,
        "portal_s": fast_done_s,
        "recorded_s": all_done_s,
        "clear_s": clear_s,
        "lost": len(expected - set(ids)),
        "doubled_ids": sum(1 for v in ids.values() if len(v) > 1),
        "bad_signatures": receiver.bad_signatures,
        "deliveries": Delivery.objects.filter(channel="webhook", status="delivered").count(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--partners", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--slow", action="store_true", help="add one partner whose endpoint takes 10 s")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/caisi_faults_bench_fanout")
    if "bench" not in database_url.rsplit("/", 1)[-1]:
        sys.exit("DATABASE_URL must name a scratch database whose name contains 'bench'.")
    redis = common.PrivateRedis(6393)
    env = common.configure(database_url=database_url, broker_url=redis.url, LOG_LEVEL="ERROR")
    redis.start()
    common.start_django()
    rows = []
    try:
        for n in args.partners:
            rows.append(one_size(n, slow=args.slow, env=env, database_url=database_url))
            r = rows[-1]
            print(
                f"{r['partners']:>6} partners: floor {r['floor_s']:.2f} s ({r['partners'] / r['floor_s']:.0f}/s), "
                f"portal {r['portal_s']:.2f} s ({r['partners'] / r['portal_s']:.0f}/s), "
                f"ratio {r['portal_s'] / r['floor_s']:.2f}; all recorded {r['recorded_s']:.2f} s; "
                f"clear's transaction {r['clear_s'] * 1000:.0f} ms; lost {r['lost']}, doubled {r['doubled_ids']}, "
                f"bad signatures {r['bad_signatures']}",
                flush=True,
            )
    finally:
        redis.stop()
    print()
    print("| partners | floor s | portal s | deliveries/s | ratio | clear's transaction ms | lost | doubled |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['partners']:,} | {r['floor_s']:.2f} | {r['portal_s']:.2f} | {r['partners'] / r['portal_s']:.0f} | "
            f"{r['portal_s'] / r['floor_s']:.2f} | {r['clear_s'] * 1000:.0f} | {r['lost']} | {r['doubled_ids']} |"
        )
    ok = all(r["lost"] == 0 and r["doubled_ids"] == 0 and r["bad_signatures"] == 0 for r in rows)
    print("RESULT", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
