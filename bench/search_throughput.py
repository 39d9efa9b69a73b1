"""Throughput of vers search with the official Python client: bulk indexing (docs/s, with the
final refresh) and sequential searches of four kinds (queries/s and median latency).

Usage: search_throughput.py BASE_URL [DOCS] [QUERIES]
"""

import random
import statistics
import sys
import time

from elasticsearch import Elasticsearch, helpers

base = sys.argv[1]
docs = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
queries = int(sys.argv[3]) if len(sys.argv) > 3 else 400
es = Elasticsearch(base, request_timeout=120)
rng = random.Random(7)
words = ["running", "shoe", "trail", "leather", "boot", "wireless", "keyboard", "laptop", "stand",
         "waterproof", "light", "grip", "sole", "desk", "office", "winter", "summer", "sport",
         "comfort", "classic", "premium", "eco", "travel", "kids", "pro", "mini", "max", "soft"]
cats = ["shoes", "boots", "office", "sport", "outdoor", "kids", "travel", "home"]

if es.indices.exists(index="bench"):
    es.indices.delete(index="bench")
es.indices.create(
    index="bench",
    settings={"number_of_replicas": 0, "analysis": {"analyzer": {"product_analyzer": {
        "type": "custom", "tokenizer": "standard", "filter": ["lowercase", "snowball"]}}}},
    mappings={"properties": {
        "name": {"type": "text", "analyzer": "product_analyzer", "fields": {"keyword": {"type": "keyword"}}},
        "description": {"type": "text", "analyzer": "product_analyzer"},
        "category": {"type": "keyword"}, "price": {"type": "float"}, "stock": {"type": "integer"},
        "created": {"type": "date"}}},
)


def doc(i):
    return {
        "name": " ".join(rng.choice(words) for _ in range(3)).title(),
        "description": " ".join(rng.choice(words) for _ in range(20)),
        "category": rng.choice(cats),
        "price": round(rng.uniform(5, 300), 2),
        "stock": rng.randint(0, 100),
        "created": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    }


batch = [{"_index": "bench", "_id": str(i), "_source": doc(i)} for i in range(docs)]
t0 = time.perf_counter()
ok, errors = helpers.bulk(es, batch, chunk_size=1000)
es.indices.refresh(index="bench")
t_index = time.perf_counter() - t0
assert ok == docs and not errors, errors
assert es.count(index="bench")["count"] == docs
print(f"bulk: {docs} docs in {t_index:.2f} s = {docs / t_index:,.0f} docs/s")

kinds = {
    "match": lambda: {"query": {"match": {"name": rng.choice(words)}}},
    "fuzzy": lambda: {"query": {"match": {"name": {"query": rng.choice(words)[:-1] + "x", "fuzziness": "AUTO"}}}},
    "facets": lambda: {"size": 0, "query": {"match": {"description": rng.choice(words)}},
                       "aggs": {"cats": {"terms": {"field": "category"}}, "price": {"avg": {"field": "price"}}}},
    "filtered+sort": lambda: {"query": {"bool": {"must": {"match": {"description": rng.choice(words)}},
                                                  "filter": [{"term": {"category": rng.choice(cats)}},
                                                             {"range": {"price": {"lte": 150}}}]}},
                               "sort": [{"price": "asc"}]},
}
for name, make in kinds.items():
    lat = []
    t0 = time.perf_counter()
    for _ in range(queries):
        q0 = time.perf_counter()
        r = es.search(index="bench", **make())
        lat.append(time.perf_counter() - q0)
        assert r["hits"]["total"]["value"] >= 0
    total = time.perf_counter() - t0
    print(f"search {name}: {queries / total:,.0f} queries/s, p50 {statistics.median(lat) * 1000:.1f} ms")
