"""`make test`: the suite, then the browser journeys, each in a pytest process of its own, and
one line at the end that says what happened.

The browser journeys need a process of their own: a live server needs plain-HTTP settings and
flushes the database between tests, neither of which the rest of the suite should see. pytest's
own output (progress, failures, the slowest tests) is passed through as it comes.

    python tests/run.py --workers 2 --browser-workers 2 [-- extra pytest arguments]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

# pytest's closing line: "==== 3 failed, 1665 passed, 18 skipped in 290.46s (0:04:50) ====".
CLOSING = re.compile(r"=+ (?P<counts>(?:\d+ \w+(?:, )?)+) in [\d.]+s")


def xdist(workers: str) -> list[str]:
    return [] if workers == "0" else ["-n", workers, "--dist", "worksteal"]


def run(args: list[str]) -> tuple[int, str, float]:
    """Run pytest with `args`, echoing its output; (exit code, its closing counts, seconds)."""
    started = time.monotonic()
    command = [sys.executable, "-m", "pytest", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    tail = b""
    while chunk := os.read(process.stdout.fileno(), 4096):
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        tail = (tail + chunk)[-4096:]
    code = process.wait()
    found = CLOSING.findall(tail.decode(errors="replace"))
    return code, (found[-1] if found else "no result (see above)"), time.monotonic() - started


def duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="2", help="pytest-xdist processes for the suite (0: none)")
    parser.add_argument("--browser-workers", default="2", help="pytest-xdist processes for the browser journeys")
    parser.add_argument("--no-browser", action="store_true", help="the suite only")
    parser.add_argument("pytest_args", nargs="*", help="passed to both pytest runs (after --)")
    options = parser.parse_args()

    database = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    runs = [("suite", ["--ignore=tests/browser", "--durations=25", *xdist(options.workers), *options.pytest_args])]
    if not options.no_browser:
        runs.append(("browser journeys", ["tests/browser", *xdist(options.browser_workers), *options.pytest_args]))
    results = []
    for name, args in runs:
        print(f"\n== make test: the {name} ({database})", flush=True)
        code, counts, seconds = run(args)
        results.append((name, code, counts, seconds))
    failed = [name for name, code, _, _ in results if code != 0]
    said = "; ".join(f"{name}: {counts} in {duration(seconds)}" for name, _, counts, seconds in results)
    if failed:
        print(f"\nmake test FAILED on {database} ({' and '.join(failed)}): {said}. The failures are listed above.")
        return 1
    print(f"\nmake test passed on {database}: {said}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
