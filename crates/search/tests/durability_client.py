"""Writes and checks documents for the crash and copy tests, with the official client.

Usage:
  durability_client.py write BASE FIRST COUNT   index docs FIRST..FIRST+COUNT-1 (no refresh),
                                                 half one by one, half in one bulk; update doc
                                                 FIRST, delete doc FIRST+1
  durability_client.py concurrent BASE COUNT    index COUNT docs from 8 threads
  durability_client.py verify BASE TOTAL        the index holds exactly docs 0..TOTAL-1 minus
                                                 the deleted ones, with the updates
"""

import sys
from concurrent.futures import ThreadPoolExecutor

from elasticsearch import Elasticsearch, helpers

mode, base = sys.argv[1], sys.argv[2]
es = Elasticsearch(base, request_timeout=60)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def doc(i):
    return {"n": i, "title": f"document number {i}", "tag": f"t{i % 5}"}


if mode == "write":
    first, count = int(sys.argv[3]), int(sys.argv[4])
    if not es.indices.exists(index="durable"):
        # No periodic refresh: until the client asks, acknowledged writes live only in the
        # write-ahead log, which is what a crash or a frozen copy must keep.
        es.indices.create(index="durable", settings={"refresh_interval": "-1"}, mappings={"properties": {"n": {"type": "integer"}, "title": {"type": "text"}, "tag": {"type": "keyword"}}})
    half = count // 2
    for i in range(first, first + half):
        r = es.index(index="durable", id=str(i), document=doc(i))
        check(r["result"] == "created", r)
    ok, errors = helpers.bulk(es, ({"_index": "durable", "_id": str(i), "_source": doc(i)} for i in range(first + half, first + count)))
    check(ok == count - half and not errors, errors)
    es.update(index="durable", id=str(first), doc={"title": "updated"})
    es.delete(index="durable", id=str(first + 1))
    print(f"wrote {count}")
elif mode == "concurrent":
    count = int(sys.argv[3])
    es.indices.create(index="busy")

    def put(i):
        es.index(index="busy", id=str(i), document=doc(i))
        es.update(index="busy", id=str(i % 50), doc={"touched": i}, retry_on_conflict=20)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(count)))
    es.indices.refresh(index="busy")
    n = es.count(index="busy")["count"]
    check(n == count, (n, count))
    hits = es.search(index="busy", query={"range": {"n": {"gte": 0}}}, size=0, track_total_hits=True)
    check(hits["hits"]["total"]["value"] == count, hits["hits"]["total"])
    print(f"concurrent {count}")
elif mode == "verify":
    total, batches = int(sys.argv[3]), int(sys.argv[4])
    batch = total // batches
    deleted = {str(b * batch + 1) for b in range(batches)}
    updated = {str(b * batch) for b in range(batches)}
    # Real-time gets see every acknowledged write, refreshed or not.
    for i in range(total):
        r = es.options(ignore_status=404).get(index="durable", id=str(i))
        if str(i) in deleted:
            check(not r["found"], ("deleted doc came back", i))
        else:
            check(r["found"], ("acknowledged doc lost", i))
            if str(i) in updated:
                check(r["_source"]["title"] == "updated", r)
    es.indices.refresh(index="durable")
    n = es.count(index="durable")["count"]
    check(n == total - len(deleted), (n, total - len(deleted)))
    r = es.search(index="durable", query={"match": {"title": "number"}}, size=0)
    check(r["hits"]["total"]["value"] == total - 2 * batches, r["hits"]["total"])
    print(f"verified {n}")
