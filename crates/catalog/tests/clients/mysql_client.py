"""Runs SQL statements on a MySQL/MariaDB server with PyMySQL, for the catalog and CLI tests.

Usage: mysql_client.py HOST PORT USER PASSWORD DATABASE STATEMENT...
(PASSWORD and DATABASE may be empty). Prints a JSON list with, per statement, its rows
(lists of values, as text) — empty for statements returning none. Commits at the end.
"""

import json
import sys

import pymysql


def main():
    host, port, user, password, database = sys.argv[1:6]
    conn = pymysql.connect(
        host=host,
        port=int(port),
        user=user,
        password=password,
        database=database or None,
        connect_timeout=10,
    )
    out = []
    with conn.cursor() as cur:
        for statement in sys.argv[6:]:
            cur.execute(statement)
            rows = cur.fetchall() if cur.description else ()
            out.append([[None if v is None else str(v) for v in row] for row in rows])
    conn.commit()
    conn.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
