"""caisi-gate: ask the CAISI Review Portal's release gate from a release pipeline.

Exit status 0 only when release is permitted; a distinct status for each other answer, so a
pipeline can tell "under review" from "blocked" from "never submitted" (see README.md).
The token comes from the environment (or a file), never from the command line, where other
users of the machine and CI logs could read it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

EXIT = {"permitted": 0, "not_yet": 10, "blocked": 11, "unknown": 12}
EXIT_USAGE = 2
EXIT_NO_ANSWER = 3
CHANNELS = ("open_weights", "api", "closed_product")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="caisi-gate",
        description="Ask the CAISI Review Portal whether a model may be released (advisory). "
        "Exits 0 when release is permitted, 10 under review, 11 blocked, 12 unknown, 3 when no answer came.",
    )
    parser.add_argument("--model", required=True, help="the model's name, as filed")
    parser.add_argument("--version", required=True, help="the model's version, as filed")
    parser.add_argument("--channel", required=True, choices=CHANNELS, help="the release channel planned")
    parser.add_argument("--organization", default="", help="the developer organization's slug (office staff only)")
    parser.add_argument("--url", default=os.environ.get("CAISI_URL", ""), help="the portal's address (CAISI_URL)")
    parser.add_argument("--token-file", help="read the API token from this file instead of CAISI_TOKEN")
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        # Only "under review": letting a pipeline through a flag or an unknown model would make
        # the step say yes to everything (leave the step out instead).
        choices=["not_yet"],
        help="also exit 0 while the review is under way (--allow not_yet)",
    )
    parser.add_argument("--json", action="store_true", help="print the portal's whole answer as JSON")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the portal (default 30)")
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("give the portal's address with --url or CAISI_URL")
    parts = urllib.parse.urlsplit(args.url)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        parser.error("--url must start with https:// (http:// only for a portal on this machine)")
    return args


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: urllib would carry the token to wherever it points."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, f"redirected to {newurl}: not followed", headers, fp)


_opener = urllib.request.build_opener(_NoRedirect)


def read_token(args) -> str:
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as handle:
            return handle.read().strip()
    return os.environ.get("CAISI_TOKEN", "").strip()


def ask(args, token: str) -> dict:
    query = {"model": args.model, "version": args.version, "channel": args.channel}
    if args.organization:
        query["organization"] = args.organization
    url = f"{args.url.rstrip('/')}/api/v1/release-gate/?{urllib.parse.urlencode(query)}"
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "caisi-gate/1.0"})  # noqa: S310
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with _opener.open(request, timeout=args.timeout) as response:  # http(s) only, checked in parse_args
        answer = json.load(response)
    if not isinstance(answer, dict):
        raise ValueError("the answer is not a JSON object")
    return answer


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.load(exc)
        error = body.get("error", {})
        message = error.get("message", "")
        details = error.get("details") or {}
        extra = "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in details.items())
        return " ".join(part for part in (message, extra) if part) or exc.reason
    except (ValueError, AttributeError):
        return str(exc.reason)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        token = read_token(args)
    except OSError as exc:
        print(f"caisi-gate: cannot read the token file: {exc}", file=sys.stderr)
        return EXIT_NO_ANSWER
    if not token:
        print("caisi-gate: no API token: set CAISI_TOKEN or give --token-file", file=sys.stderr)
        return EXIT_NO_ANSWER
    try:
        answer = ask(args, token)
    except urllib.error.HTTPError as exc:
        print(f"caisi-gate: the portal answered {exc.code}: {_error_message(exc)}", file=sys.stderr)
        return EXIT_NO_ANSWER
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        print(f"caisi-gate: no answer from {args.url}: {exc}", file=sys.stderr)
        return EXIT_NO_ANSWER
    kind = answer.get("answer")
    if kind not in EXIT:
        print(f"caisi-gate: the portal's answer is not one this client knows ({kind!r})", file=sys.stderr)
        return EXIT_NO_ANSWER
    if args.json:
        print(json.dumps(answer, indent=2, sort_keys=True))
    else:
        print(f"{answer.get('label', kind)}: {answer.get('reason', '')}")
        if answer.get("release_conditions"):
            print(f"Release conditions: {answer['release_conditions']}")
        if answer.get("link"):
            print(f"Details: {answer['link']}")
        print(answer.get("advisory", ""))
    if kind in args.allow:
        return 0
    return EXIT[kind]


if __name__ == "__main__":
    sys.exit(main())
