"""vers search's OpenSearch 2 flavor judged by the official client (`pip install opensearch-py`).

Usage: opensearch_client.py BASE_URL
"""

import sys

from opensearchpy import NotFoundError, OpenSearch, helpers

es = OpenSearch(sys.argv[1])


def check(cond, what):
    if not cond:
        raise AssertionError(what)


info = es.info()
check(info["version"]["distribution"] == "opensearch" and info["version"]["number"].startswith("2."), info)

es.indices.create(index="articles", body={
    "settings": {"analysis": {"analyzer": {"stem": {"tokenizer": "standard", "filter": ["lowercase", "asciifolding", "snowball"]}}}},
    "mappings": {"properties": {"title": {"type": "text", "analyzer": "stem"}, "lang": {"type": "keyword"}}},
})
helpers.bulk(es, [
    {"_index": "articles", "_id": "a", "_source": {"title": "Café openings", "lang": "en"}},
    {"_index": "articles", "_id": "b", "_source": {"title": "Opening hours", "lang": "en"}},
    {"_index": "articles", "_id": "c", "_source": {"title": "Horaires", "lang": "fr"}},
])
es.indices.refresh(index="articles")
r = es.search(index="articles", body={"query": {"match": {"title": "cafe opening"}}})
check([h["_id"] for h in r["hits"]["hits"]] == ["a", "b"], r)
r = es.search(index="articles", body={"size": 0, "aggs": {"langs": {"terms": {"field": "lang"}}}})
check({b["key"]: b["doc_count"] for b in r["aggregations"]["langs"]["buckets"]} == {"en": 2, "fr": 1}, r)
try:
    es.get(index="articles", id="zzz")
    raise AssertionError("missing doc found")
except NotFoundError:
    pass
print("opensearch client checks passed")
