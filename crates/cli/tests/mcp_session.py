"""Drives `vers mcp` with the official MCP Python SDK, as a coding agent would.

Usage: python mcp_session.py VERS_BINARY PROJECT_DIR FRESH_DIR

A full session on PROJECT_DIR (up, query, commit, branch, diff, chaos, test, down) with
error cases in between, then the manifest tools on the empty FRESH_DIR. Prints
`MCP_STATUS_P50_MS=` and `API_STATUS_P50_MS=` (vers_status through MCP, and GET /api/status
on the daemon's socket directly); exits non-zero with a message on the first wrong answer.
"""

import asyncio
import hashlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

VERS, PROJECT, FRESH = sys.argv[1], sys.argv[2], sys.argv[3]

TOOLS = {
    "vers_status": [], "vers_branch_list": [], "vers_branch_create": ["alias", "from"],
    "vers_branch_checkout": ["branch"], "vers_branch_delete": ["branch", "force"],
    "vers_commit": ["tag", "message"], "vers_rollback": ["target"],
    "vers_diff": ["target", "aspects"], "integration_init": ["name", "template"],
    "integration_add_service": ["service", "alias", "config"],
    "integration_remove_service": ["service"],
    "integration_up": ["services", "build", "checkpoint"], "integration_down": ["services"],
    "integration_service_status": [], "integration_logs": ["service", "lines", "since"],
    "integration_test": ["suite", "parallel", "branch_prefix"],
    "integration_matrix": ["filter", "parallel", "continue_on_failure"],
    "integration_compare_branches": ["branch1", "branch2", "aspects"],
    "vers_execute": ["command", "service"], "vers_connect": ["service"],
    "db_query": ["query", "database", "service"], "db_table_counts": ["database", "service"],
    "db_schema_dump": ["database", "service", "output"],
    "chaos_inject": ["service", "action", "duration", "intensity", "latency", "jitter", "loss",
                     "rate", "status", "percent", "from"],
    "chaos_recover": ["service", "checkpoint"],
    "integration_deploy": ["name", "from"], "integration_rollback": ["name", "version"],
    "integration_deployments_list": [],
    "integration_preview_create": ["name", "from", "ttl"],
    "integration_preview_delete": ["name"],
    "integration_export": ["format", "output", "target"],
    "integration_docs": ["run", "output", "json"],
}


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def text(result):
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def ok(session, tool, args=None):
    """Calls a tool that must succeed; its answer as JSON (or text)."""
    r = await session.call_tool(tool, args or {})
    body = text(r)
    check(not r.is_error, f"{tool} {args}: isError: {body}")
    try:
        return json.loads(body)
    except ValueError:
        return body


def failed_logs(report):
    """The report and the log of each branch that did not pass, for a failed check."""
    out = [json.dumps(report, indent=1)[:4000]]
    for suite in report.get("suites", []):
        for b in suite.get("branches", []):
            if b.get("status") != "passed" and b.get("log"):
                try:
                    with open(b["log"]) as f:
                        out.append(f"--- {b['log']}:\n{f.read()[-3000:]}")
                except OSError as e:
                    out.append(f"--- {b['log']}: {e}")
    return "\n".join(out)


async def fails(session, tool, args, needle):
    """Calls a tool that must fail with `needle` in its message."""
    r = await session.call_tool(tool, args)
    body = text(r)
    check(r.is_error, f"{tool} {args}: expected isError, got {body}")
    check(needle in body, f"{tool} {args}: {needle!r} not in {body!r}")


def env():
    keep = ("PATH", "HOME", "CI", "TMPDIR", "LANG")
    return {k: os.environ[k] for k in keep if k in os.environ}


def params(cwd):
    return StdioServerParameters(command=VERS, args=["mcp"], cwd=cwd, env=env())


def count(counts, table):
    return next(t["rows"] for t in counts["tables"] if t["table"] == table)


def items_at(endpoint):
    """Rows of `items` in the app database of the postgres at `127.0.0.1:PORT`."""
    host, port = endpoint.rsplit(":", 1)
    out = subprocess.run(["psql", "-h", host, "-p", port, "-U", "postgres", "-tA", "-d", "app",
                          "-c", "select count(*) from items"],
                         capture_output=True, text=True, timeout=30)
    check(out.returncode == 0, f"psql at {endpoint}: {out.stderr}")
    return int(out.stdout.strip())


def api_socket():
    key = hashlib.sha256(os.path.realpath(PROJECT).encode()).hexdigest()[:16]
    return f"/run/vers/{key}/api/api.sock"


def api_post(path, body):
    """POST `body` (JSON) to the daemon's API; the status and the decoded answer."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(api_socket())
    conn = http.client.HTTPConnection("vers")
    conn.sock = s
    conn.request("POST", path, body=json.dumps(body), headers={"content-type": "application/json"})
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    return resp.status, json.loads(raw)


def api_status_ms(n):
    """Milliseconds of GET /api/status on the daemon's socket, n times."""
    key = hashlib.sha256(os.path.realpath(PROJECT).encode()).hexdigest()[:16]
    path = f"/run/vers/{key}/api/api.sock"
    times = []
    for _ in range(n):
        began = time.perf_counter()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        conn = http.client.HTTPConnection("vers")
        conn.sock = s
        conn.request("GET", "/api/status")
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        check(resp.status == 200, f"GET /api/status: {resp.status} {body[:200]!r}")
        times.append((time.perf_counter() - began) * 1000)
    return times


async def session_on_project():
    async with stdio_client(params(PROJECT)) as (read, write):
        async with ClientSession(read, write) as s:
            await s.initialize()

            # Every tool, with its argument names, each described.
            tools = {t.name: t for t in (await s.list_tools()).tools}
            for name, args in TOOLS.items():
                check(name in tools, f"tool {name} is missing; have {sorted(tools)}")
                props = tools[name].input_schema.get("properties", {})
                for a in args:
                    check(a in props, f"{name}: no argument {a} in {props}")
                    check(props[a].get("description"), f"{name}.{a} has no description")
                check(tools[name].description, f"{name} has no description")

            up = await ok(s, "integration_up", {})
            head = [e for e in up["status"]["environments"] if e["head"]]
            check(head and head[0]["name"] == "root", f"up: {up}")
            status = await ok(s, "integration_service_status")
            states = {x["name"]: x["state"] for x in status["services"]}
            check(states == {"postgres": "running", "redis": "running"}, f"status: {status}")

            # Queries: rows as objects with typed values; the engine's message on bad SQL.
            q = await ok(s, "db_query", {"query": "select name, qty from items order by name"})
            check(q["rows"] == [{"name": "a", "qty": 1}, {"name": "b", "qty": 2}], f"{q}")
            ins = await ok(s, "db_query", {"query": "insert into items values ('c', 3)",
                                           "database": "app", "service": "postgres"})
            check(ins["row_count"] == 1, f"{ins}")
            await fails(s, "db_query", {"query": "select * from nope"}, 'relation "nope" does not exist')
            await fails(s, "db_query", {"query": "select 1", "service": "redis"}, "redis")
            counts = await ok(s, "db_table_counts", {})
            check(count(counts, "items") == 3, f"{counts}")
            dump = await ok(s, "db_schema_dump", {})
            check("CREATE TABLE public.items" in dump, dump[:500])
            written = await ok(s, "db_schema_dump", {"output": "/tmp/vers-mcp-schema.sql"})
            with open("/tmp/vers-mcp-schema.sql") as f:
                check("CREATE TABLE public.items" in f.read(), f"{written}")
            os.remove("/tmp/vers-mcp-schema.sql")

            # Commit, branch, diff.
            c = await ok(s, "vers_commit", {"tag": "three-items", "message": "c added"})
            check(c["tag"] == "three-items", f"{c}")
            b = await ok(s, "vers_branch_create", {"alias": "side", "from": "seeded"})
            check(b["name"] == "side", f"{b}")
            names = [x["name"] for x in await ok(s, "vers_branch_list")]
            check("side" in names and "root" in names, f"{names}")
            d = await ok(s, "vers_diff", {"target": "seeded", "aspects": ["database"]})
            pg = d["database"]["postgres"][0]["databases"]
            app = next(x for x in pg if x["database"] == "app")
            items = next(t for t in app["tables"] if t["table"] == "items")
            check((items["rows_from"], items["rows_to"]) == (2, 3), f"{items}")
            cmp = await ok(s, "integration_compare_branches",
                           {"branch1": "side", "branch2": "HEAD", "aspects": "database,config"})
            check(cmp["from"]["name"] == "side" and not cmp["identical"], f"{cmp['from']}")

            # Errors leave the server serving.
            await fails(s, "vers_branch_checkout", {"branch": "no-such-branch"}, "no-such-branch")
            await fails(s, "vers_diff", {"target": "seeded", "aspects": "disk"}, "unknown aspect `disk`")
            await fails(s, "vers_rollback", {"target": "never-tagged"}, "never-tagged")
            after = await ok(s, "vers_status")
            check(any(e["head"] for e in after["environments"]), f"{after}")

            # Chaos: a delay on redis, seen from inside HEAD, then gone.
            ping = ("s=$(date +%s%N); redis-cli -h redis ping >/dev/null || exit 1; "
                    "e=$(date +%s%N); echo $(( (e - s) / 1000000 ))")
            inj = await ok(s, "chaos_inject", {"service": "redis", "action": "network-delay",
                                               "intensity": 1200})
            check(inj["service"] == "redis" and inj["action"] == "network-delay", f"{inj}")
            st = await ok(s, "integration_service_status")
            faults = next(x for x in st["services"] if x["name"] == "redis")["faults"]
            check(faults == ["network-delay latency=1200ms"], f"{faults}")
            slow = await ok(s, "vers_execute", {"command": ping})
            check(slow["exit_code"] == 0 and int(slow["output"].strip()) >= 1000, f"{slow}")
            await fails(s, "chaos_inject", {"service": "redis", "action": "kill", "intensity": 3},
                        "no meaning for kill")
            rec = await ok(s, "chaos_recover", {"service": "redis"})
            check(rec["recovered"] == ["redis"], f"{rec}")
            fast = await ok(s, "vers_execute", {"command": ping})
            check(int(fast["output"].strip()) < 700, f"{fast}")

            conn = await ok(s, "vers_connect", {"service": "postgres"})
            check(conn["command"].endswith("connect --service postgres"), f"{conn}")
            logs = await ok(s, "integration_logs", {"service": "postgres", "lines": 3})
            check(len(logs["files"][0]["lines"]) <= 3, f"{logs}")

            # Tests: each branch on its own copy of `seeded`; a prefix picks branches.
            t = await ok(s, "integration_test", {"parallel": True})
            check(t["report"]["summary"] == {"total": 2, "passed": 2, "failed": 0} or
                  (t["report"]["summary"]["passed"], t["report"]["summary"]["total"]) == (2, 2),
                  failed_logs(t["report"]))
            one = await ok(s, "integration_test", {"suite": "items", "branch_prefix": "add"})
            check(one["report"]["summary"]["total"] == 1, f"{one['report']['summary']}")
            await fails(s, "integration_test", {"branch_prefix": "zz"}, "starts with `zz`")

            # Deployments: v1 from HEAD (3 items), v2 from `seeded` (2), rollback to v1, all on
            # the same host port; a preview beside them; hosted-only export formats refused.
            dep = await ok(s, "integration_deploy", {"name": "demo"})
            check(dep["version"] == 1 and dep["state"] == "running", f"{dep}")
            pg = dep["endpoints"].get("postgres", "")
            check(pg.startswith("127.0.0.1:"), f"{dep}")
            check(items_at(pg) == 3, f"v1 rows: {items_at(pg)}")
            dep2 = await ok(s, "integration_deploy", {"name": "demo", "from": "seeded"})
            check(dep2["version"] == 2 and dep2["endpoints"]["postgres"] == pg, f"{dep2}")
            check(items_at(pg) == 2, f"v2 rows: {items_at(pg)}")
            back = await ok(s, "integration_rollback", {"name": "demo", "version": 1})
            check(back["version"] == 1 and back["endpoints"]["postgres"] == pg, f"{back}")
            check(items_at(pg) == 3, f"rolled back rows: {items_at(pg)}")
            await fails(s, "integration_rollback", {"name": "nope"}, "no deployment `nope`")
            pv = await ok(s, "integration_preview_create", {"name": "pr-1", "from": "seeded",
                                                            "ttl": "1h"})
            check(pv["preview"] and pv["env_name"] == "preview/pr-1/v1", f"{pv}")
            check(items_at(pv["endpoints"]["postgres"]) == 2, f"{pv}")
            listed = await ok(s, "integration_deployments_list")
            names = sorted(d["name"] for d in listed["deployments"])
            check(names == ["demo", "pr-1"], f"{listed}")
            gone = await ok(s, "integration_preview_delete", {"name": "pr-1"})
            check(gone["removed"] == "pr-1", f"{gone}")
            listed = await ok(s, "integration_deployments_list")
            check([d["name"] for d in listed["deployments"]] == ["demo"], f"{listed}")

            # Export: the files are written by the MCP server's process, under the project.
            ex = await ok(s, "integration_export", {"format": "compose",
                                                    "output": "exported/compose.yaml"})
            compose = os.path.join(PROJECT, "exported", "compose.yaml")
            check(ex["main"] == compose and os.path.isfile(compose), f"{ex}")
            with open(compose) as f:
                body = f.read()
            check("\"postgres:15\"" in body and "\"redis:7\"" in body, body[:800])
            k8s = await ok(s, "integration_export", {"format": "kubernetes", "output": "exported/k8s"})
            check(any(p.endswith(".yaml") and os.path.isfile(p) for p in k8s["files"]), f"{k8s}")
            for fmt in ("oci", "raw", "ami", "gce"):
                await fails(s, "integration_export", {"format": fmt}, "needs the hosted service")
            # The daemon answers with the files and writes nothing where a caller says.
            nowhere = f"/tmp/vers-export-not-written-{os.getpid()}"
            code, answer = api_post("/api/export", {"format": "compose", "dir": nowhere})
            check(code == 200 and answer["files"], f"POST /api/export: {code} {answer}")
            check(not os.path.exists(nowhere), f"the daemon wrote {nowhere}")

            # Round trip of vers_status, against the API call alone.
            mcp_ms = []
            for _ in range(50):
                began = time.perf_counter()
                await ok(s, "vers_status")
                mcp_ms.append((time.perf_counter() - began) * 1000)
            api_ms = api_status_ms(50)
            print(f"MCP_STATUS_P50_MS={statistics.median(mcp_ms):.1f}")
            print(f"API_STATUS_P50_MS={statistics.median(api_ms):.1f}")

            # Down: some services, then the environment.
            down = await ok(s, "integration_down", {"services": ["redis"]})
            check(down["stopped"] == ["redis"], f"{down}")
            status = await ok(s, "integration_service_status")
            states = {x["name"]: x["state"] for x in status["services"]}
            check(states == {"postgres": "running", "redis": "stopped"}, f"{states}")
            gone = await ok(s, "vers_branch_delete", {"branch": "side"})
            check(gone["deleted"] == ["side"], f"{gone}")
            down = await ok(s, "integration_down", {})
            check(len(down["stopped"]) == 1, f"{down}")


async def session_on_fresh_dir():
    async with stdio_client(params(FRESH)) as (read, write):
        async with ClientSession(read, write) as s:
            await s.initialize()
            await fails(s, "vers_status", {}, "vers-integration.yaml")
            init = await ok(s, "integration_init", {"name": "fresh", "template": "blank"})
            check(init["manifest"].endswith("vers-integration.yaml"), f"{init}")
            await fails(s, "integration_init", {"name": "again"}, "already exists")
            add = await ok(s, "integration_add_service",
                           {"service": "postgres@16", "alias": "reports",
                            "config": {"databases": ["app", "audit"]}})
            check(add["service"] == "reports", f"{add}")
            await ok(s, "integration_add_service", {"service": "redis@7", "alias": "cache"})
            await fails(s, "integration_add_service", {"service": "nosuchengine"}, "nosuchengine")
            manifest = os.path.join(FRESH, "vers-integration.yaml")
            with open(manifest) as f:
                text_ = f.read()
            check("cache:" in text_ and "audit" in text_, text_)
            rm = await ok(s, "integration_remove_service", {"service": "cache"})
            check(rm["stopped_in"] is None, f"{rm}")
            with open(manifest) as f:
                check("cache:" not in f.read(), "cache is still in the manifest")
            await fails(s, "integration_remove_service", {"service": "cache"}, "unknown service `cache`")


async def main():
    await session_on_project()
    await session_on_fresh_dir()
    print("MCP_SESSION_OK")


asyncio.run(main())
