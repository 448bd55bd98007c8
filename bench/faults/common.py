"""What the fault scripts share: a private Redis, a scratch PostgreSQL database, Celery
workers in their own process groups, a webhook receiver that records every call, and the
count of what was lost or duplicated.

Nothing here touches the Redis or database a `make run` uses: each script names its own
database (the name must contain "faults") and runs Redis on a private port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
LOGS = ROOT / "var" / "faults"


def configure(*, database_url: str, broker_url: str, **extra: str) -> dict:
    """Environment for this process and the workers it starts (set before Django starts)."""
    env = {
        "DJANGO_SETTINGS_MODULE": "caisi_portal.settings",
        "SECRET_KEY": "fault-scripts-only",
        "DEBUG": "true",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "REDIS_URL": broker_url,
        "EMAIL_URL": "memorymail://",
        "DEMO_WEBHOOK_RECEIVER": "false",
        # The scripts' recording receivers listen on this machine (partners.destinations).
        "WEBHOOK_ALLOWED_PRIVATE_HOSTS": "127.0.0.1,localhost",
        # A dead worker's claim on a notification ends after 20 s instead of 5 minutes.
        "PARTNER_DELIVERY_LEASE_SECONDS": "20",
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    os.environ.update(env)
    return dict(os.environ)


def start_django() -> None:
    import django
    from django.test.utils import setup_test_environment

    django.setup()
    setup_test_environment()  # the test client's host name; outgoing mail kept in memory


def recreate_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if "faults" not in name:
        raise SystemExit(f"refusing to drop {name!r}: a fault database's name contains 'faults'")
    admin = parts._replace(path="/postgres").geturl()
    # bench/smoke.py migrates one template first and each benchmark copies it: the `migrate` that
    # follows then has nothing to apply. Unset for the fault scripts.
    template = os.environ.get("BENCH_TEMPLATE_DATABASE")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def migrate() -> None:
    """Migrate, then give every default domain the test suite's reference benchmark: plans pick
    current benchmark versions, and a submission cannot be cleared without a result for each."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from tests.factories import ensure_reference_catalog

    ensure_reference_catalog()


class PrivateRedis:
    """redis-server on its own port, no persistence: a restart loses every queued message."""

    def __init__(self, port: int):
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(self.answers, timeout=10)

    def answers(self) -> bool:
        import redis

        try:
            return redis.Redis(port=self.port, socket_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


CELERY = [sys.executable, "-m", "celery", "-A", "caisi_portal", "worker", "-l", "warning"]
CELERY += ["--without-gossip", "--without-mingle", "--without-heartbeat"]


CELERY = [sys.executable, "-m", "celery", "-A", "caisi_portal", "worker", "-l", "warning"]
CELERY += ["--without-gossip", "--without-mingle", "--without-heartbeat"]


class Worker:
    """`celery worker` in its own process group, so SIGKILL takes its children with it."""

    count = 0

    def __init__(self, env: dict, concurrency: int = 2, *, beat: bool = False):
        Worker.count += 1
        self.beat = beat
        self.name = f"faults{Worker.count}"
        self.env = env
        self.concurrency = concurrency
        self.process = None
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log = LOGS / f"{self.name}.log"

    def start(self) -> Worker:
        self.process = subprocess.Popen(
            [
                *CELERY,
                *("--concurrency", str(self.concurrency), "-n", f"{self.name}@%h"),
                *(("-B", "-s", str(LOGS / f"{self.name}-beat-schedule")) if self.beat else ()),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


class _Server(ThreadingHTTPServer):
    # A real endpoint's listen backlog (socketserver's default is 5): a fan-out opens dozens of
    # connections at once, and a backlog of 5 drops connects into timeouts no partner would cause.
    request_queue_size = 128


class Receiver:
    """Plays every partner's webhook endpoint: records (partner, webhook-id) and answers 204."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.lock = threading.Lock()
        self.calls: list[tuple[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.calls.append((self.path.rsplit("/", 1)[-1], self.headers.get("webhook-id", "")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, partner: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook/{partner}"

    def seen(self) -> int:
        with self.lock:
            return len(self.calls)

    def stop(self) -> None:
        self.server.shutdown()


def wait_until(predicate, *, timeout: float, interval: float = 0.25, tick=None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if tick:
            tick()
        time.sleep(interval)
    return predicate()


def beat():
    """Stands in for celery beat, every few seconds instead of every minute."""
    from submissions.tasks import sweep_review_clocks

    last = [0.0]

    def tick():
        if time.monotonic() - last[0] < 3:
            return
        last[0] = time.monotonic()
        # The broker may be down: beat's message would be lost too; the next tick tries again.
        with contextlib.suppress(Exception):
            sweep_review_clocks.apply_async(retry=False)

    return tick


def make_partners(n: int, receiver: Receiver, event_types) -> list:
    from partners.models import TrustedPartner
    from submissions.models import Organization

    orgs = Organization.objects.bulk_create(
        Organization(name=f"Partner {i}", slug=f"partner-{i}", kind=Organization.Kind.TRUSTED_PARTNER) for i in range(n)
    )
    return TrustedPartner.objects.bulk_create(
        TrustedPartner(organization=org, webhook_url=receiver.url(org.slug), event_types=list(event_types))
        for org in orgs
    )


def delivery_audit(receiver: Receiver) -> dict:
    """Every webhook delivery the outbox holds against what the receiver saw.

    lost: a delivery no receiver call carried (or still not delivered);
    retried: calls that repeated an id already seen (allowed: a retry of one message);
    unexpected: calls with an id no delivery has, or one partner seeing one event under two ids.
    """
    from partners.models import Delivery

    expected = {}  # webhook-id -> (partner slug, event id)
    undelivered = 0
    for d in Delivery.objects.filter(channel=Delivery.Channel.WEBHOOK).select_related("partner__organization"):
        expected[d.webhook_id] = (d.partner.organization.slug, d.event_id)
        undelivered += d.status != Delivery.Status.DELIVERED
    with receiver.lock:
        calls = list(receiver.calls)
    by_id = defaultdict(list)
    for partner, webhook_id in calls:
        by_id[webhook_id].append(partner)
    unexpected = sum(len(v) for k, v in by_id.items() if k not in expected)
    unexpected += sum(1 for k, v in by_id.items() if k in expected and set(v) != {expected[k][0]})
    ids_per_partner_event = defaultdict(set)
    for k in by_id:
        if k in expected:
            ids_per_partner_event[expected[k]].add(k)
    unexpected += sum(len(ids) - 1 for ids in ids_per_partner_event.values())
    other_deliveries = Delivery.objects.exclude(channel=Delivery.Channel.WEBHOOK)
    return {
        "webhook deliveries": len(expected),
        "receiver calls": len(calls),
        "lost": sum(1 for k in expected if k not in by_id) + undelivered,
        "retried (same id again)": sum(len(v) - 1 for k, v in by_id.items() if k in expected),
        "unexpected duplicates": unexpected,
        "emails not delivered": other_deliveries.exclude(status=Delivery.Status.DELIVERED).count(),
    }


def print_report(title: str, rows: dict) -> None:
    print(f"\n== {title}")
    width = max(len(k) for k in rows)
    for key, value in rows.items():
        print(f"  {key:<{width}}  {value}")


def verdict(ok: bool) -> int:
    print("\nRESULT:", "PASS (zero lost, zero unexpected duplicates)" if ok else "FAIL")
    return 0 if ok else 1
