"""Talks to a memcached server with pymemcache, for the catalog tests.

Usage: memcached_client.py HOST PORT. Stores a key, reads it back and prints JSON:
{"got": value, "settings": {name: value}} (`stats settings`, as text).
"""

import json
import sys

from pymemcache.client.base import Client


def main():
    client = Client((sys.argv[1], int(sys.argv[2])), connect_timeout=5, timeout=5)
    client.set("greeting", "hello", expire=0)
    got = client.get("greeting")
    settings = client.stats("settings")
    print(
        json.dumps(
            {
                "got": got.decode() if got is not None else None,
                "settings": {
                    (k.decode() if isinstance(k, bytes) else k): (
                        v.decode() if isinstance(v, bytes) else str(v)
                    )
                    for k, v in settings.items()
                },
            }
        )
    )


if __name__ == "__main__":
    main()
