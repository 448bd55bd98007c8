"""The suite, several runs in a row, while stress-ng keeps every core busy: a test that fails
once under load is a flaky test, to be fixed (never retried).

    python tests/under_load.py [--runs 3] [--no-browser] [--workers 2]

Uses the database DATABASE_URL names (SQLite when unset), as `make test` does. stress-ng (from
Debian) runs one CPU stressor per core at normal priority, competing with the tests for every
core, and is stopped by its own pid when the runs end, passed or not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", default=str(os.cpu_count() or 2))
    parser.add_argument("--no-browser", action="store_true")
    options = parser.parse_args()
    if shutil.which("stress-ng") is None:
        sys.exit("stress-ng is needed (apt-get install -y stress-ng).")
    cores = str(os.cpu_count() or 2)
    stress = subprocess.Popen(["stress-ng", "--cpu", cores, "--quiet"])
    results = []
    try:
        time.sleep(1)  # the stressors are running before the first test starts
        for number in range(1, options.runs + 1):
            print(f"\n==== under load: run {number} of {options.runs} (stress-ng --cpu {cores})", flush=True)
            command = [sys.executable, str(HERE / "run.py"), "--workers", options.workers]
            if options.no_browser:
                command.append("--no-browser")
            started = time.monotonic()
            code = subprocess.call(command)
            results.append((number, code, time.monotonic() - started))
    finally:
        stress.terminate()
        stress.wait(timeout=30)
    for number, code, seconds in results:
        print(f"run {number}: {'passed' if code == 0 else 'FAILED'} in {seconds / 60:.1f} min")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
