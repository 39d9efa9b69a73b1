"""vers search's Elasticsearch 7 flavor judged by the official 7.x client (`pip install elasticsearch7`).

Usage: es7_client.py BASE_URL
"""

import sys

import elasticsearch
from elasticsearch7 import Elasticsearch, NotFoundError, RequestError, helpers

BASE = sys.argv[1]
es = Elasticsearch(BASE)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


info = es.info()
check(info["version"]["number"].startswith("7.17."), info)
check(info["version"]["build_flavor"] == "default", info)

es.indices.create(index="orders", body={
    "settings": {"number_of_replicas": 0, "analysis": {"analyzer": {"en": {"tokenizer": "standard", "filter": ["lowercase", "snowball"]}}}},
    "mappings": {"properties": {
        "customer": {"type": "text", "analyzer": "en", "fields": {"keyword": {"type": "keyword"}}},
        "status": {"type": "keyword"},
        "total": {"type": "double"},
        "placed_at": {"type": "date"},
    }},
})
rows = [
    {"customer": "Ada Lovelace", "status": "shipped", "total": 120.0, "placed_at": "2024-01-02"},
    {"customer": "Alan Turing", "status": "pending", "total": 40.5, "placed_at": "2024-01-20"},
    {"customer": "Grace Hopper", "status": "shipped", "total": 99.9, "placed_at": "2024-02-11"},
]
helpers.bulk(es, ({"_index": "orders", "_id": str(i), "_source": r} for i, r in enumerate(rows)), refresh=True)

doc = es.get(index="orders", id="0")
check(doc["_type"] == "_doc" and doc["_source"]["customer"] == "Ada Lovelace", doc)
r = es.search(index="orders", body={"query": {"match": {"customer": "hoppers"}}})
check([h["_id"] for h in r["hits"]["hits"]] == ["2"], r)
check(r["hits"]["hits"][0]["_type"] == "_doc", r)
r = es.search(index="orders", body={"size": 0, "aggs": {
    "by_status": {"terms": {"field": "status"}, "aggs": {"revenue": {"sum": {"field": "total"}}}},
    "monthly": {"date_histogram": {"field": "placed_at", "calendar_interval": "1M"}},
}})
by_status = {b["key"]: (b["doc_count"], round(b["revenue"]["value"], 2)) for b in r["aggregations"]["by_status"]["buckets"]}
check(by_status == {"shipped": (2, 219.9), "pending": (1, 40.5)}, by_status)
check([b["doc_count"] for b in r["aggregations"]["monthly"]["buckets"]] == [2, 1], r["aggregations"])
r = es.search(index="orders", body={"query": {"range": {"total": {"gte": 50}}}, "sort": [{"total": "asc"}]}, rest_total_hits_as_int=True)
check(r["hits"]["total"] == 2 and [h["_id"] for h in r["hits"]["hits"]] == ["2", "0"], r)
es.update(index="orders", id="1", body={"doc": {"status": "shipped"}}, refresh=True)
check(es.count(index="orders", body={"query": {"term": {"status": "shipped"}}})["count"] == 3, "update")
es.delete(index="orders", id="1", refresh=True)
try:
    es.get(index="orders", id="1")
    raise AssertionError("deleted doc found")
except NotFoundError:
    pass
try:
    es.search(index="orders", body={"query": {"bogus": {}}})
    raise AssertionError("bogus query accepted")
except RequestError as e:
    check(e.error == "parsing_exception", e)

# An Elasticsearch 8 client asks for compatible-with=8, which a 7.x server refuses.
try:
    elasticsearch.Elasticsearch(BASE).search(index="orders")
    raise AssertionError("an 8.x client was served by the 7 flavor")
except elasticsearch.BadRequestError as e:
    check(e.error == "media_type_header_exception", e)

print("es7 client checks passed")
