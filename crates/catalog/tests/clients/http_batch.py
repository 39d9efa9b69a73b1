"""Sends HTTP requests with `requests` and prints what came back, for the catalog tests.

Reads a JSON list of requests on stdin, each {"method", "url", "headers"?, "params"?,
"data"?, "json"?}, sends them in order on one session and prints a JSON list of responses,
each {"status", "headers" (lower-cased names), "text", "json" (the body parsed, or null)}.
"""

import json
import sys

import requests


def main():
    batch = json.load(sys.stdin)
    session = requests.Session()
    out = []
    for req in batch:
        resp = session.request(
            req["method"],
            req["url"],
            headers=req.get("headers"),
            params=req.get("params"),
            data=req.get("data"),
            json=req.get("json"),
            allow_redirects=False,
            timeout=30,
        )
        try:
            body = resp.json()
        except ValueError:
            body = None
        out.append(
            {
                "status": resp.status_code,
                "headers": {k.lower(): v for k, v in resp.headers.items()},
                "text": resp.text,
                "json": body,
            }
        )
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
