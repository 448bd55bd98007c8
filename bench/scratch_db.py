"""The scratch PostgreSQL database the 100,000-submission benchmarks share."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time


def portfolio_database(submissions: int, *, reuse: bool) -> None:
    """Recreate DATABASE_URL's database, migrate it and fill the portfolio (or, with `reuse`, keep it).

    Sets Django up on the way: callers import models only after this returns.
    """
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database whose name contains 'bench'.")
    from bench.clock_sweep import recreate_database

    if not reuse:
        recreate_database(url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from bench.portfolio import build_portfolio

    if not reuse:
        started = time.perf_counter()
        build_portfolio(submissions, now=dt.datetime.now(dt.UTC), batch=10_000)
        with connection.cursor() as cur:
            # As autovacuum leaves a settled database: statistics, and the visibility map that lets
            # counts be answered from an index alone.
            cur.execute("VACUUM ANALYZE")
        print(f"Filled {submissions:,} submissions in {time.perf_counter() - started:.0f} s.")
