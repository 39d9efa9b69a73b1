"""vers search judged by the official Elasticsearch Python client 8.x (`pip install elasticsearch`).

Usage: es8_client.py BASE_URL

Covers what applications and the seeds' suites use: index admin with custom analyzers,
mappings with multi-fields, documents (CRUD, partial updates, conflicts), bulk, refresh,
the query DSL (stemming, fuzziness, facets, autocomplete, bool, term-level queries),
sorting and paging, aggregations, highlighting, counts, delete-by-query, _cat and health.
"""

import sys

from elasticsearch import (
    BadRequestError,
    ConflictError,
    Elasticsearch,
    NotFoundError,
    helpers,
)

BASE = sys.argv[1]
es = Elasticsearch(BASE, request_timeout=30)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def ids(resp):
    return sorted(h["_id"] for h in resp["hits"]["hits"])


# --- the server presents itself as Elasticsearch 8 -----------------------------------
info = es.info()
check(info["version"]["number"].startswith("8."), info)
check(info["tagline"] == "You Know, for Search", info)
check(info.meta.headers.get("x-elastic-product") == "Elasticsearch", info.meta.headers)
check("compatible-with=8" in info.meta.headers.get("content-type", ""), info.meta.headers)
check(es.ping(), "ping")

# --- Pattern 4's products index, plus autocomplete and facet fields -------------------
settings = {
    "number_of_replicas": 0,
    "analysis": {
        "filter": {"autocomplete_filter": {"type": "edge_ngram", "min_gram": 2, "max_gram": 15}},
        "analyzer": {
            "product_analyzer": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "snowball"]},
            "autocomplete": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "autocomplete_filter"]},
        },
    },
}
mappings = {
    "properties": {
        "name": {
            "type": "text",
            "analyzer": "product_analyzer",
            "fields": {
                "keyword": {"type": "keyword"},
                "suggest": {"type": "text", "analyzer": "autocomplete", "search_analyzer": "standard"},
            },
        },
        "description": {"type": "text", "analyzer": "product_analyzer"},
        "category": {"type": "keyword"},
        "brand": {"type": "keyword"},
        "price": {"type": "float"},
        "stock": {"type": "integer"},
        "in_stock": {"type": "boolean"},
        "created": {"type": "date"},
        "tags": {"type": "keyword"},
    }
}
created = es.indices.create(index="products", settings=settings, mappings=mappings)
check(created["acknowledged"] and created["index"] == "products", created)
check(es.indices.exists(index="products"), "exists")
check(not es.indices.exists(index="nope"), "missing index exists")
try:
    es.indices.create(index="products")
    raise AssertionError("duplicate index created")
except BadRequestError as e:
    check(e.error == "resource_already_exists_exception", e)

got = es.indices.get(index="products")["products"]
check(got["mappings"]["properties"]["name"]["fields"]["keyword"]["type"] == "keyword", got)
check(got["settings"]["index"]["analysis"]["analyzer"]["product_analyzer"]["filter"] == ["lowercase", "snowball"], got)
check(got["settings"]["index"]["number_of_replicas"] == "0", got)

products = [
    {"name": "Running Shoe", "description": "Light shoe for road runs", "category": "shoes", "brand": "Acme",
     "price": 89.99, "stock": 12, "in_stock": True, "created": "2024-01-15T10:00:00Z", "tags": ["sport", "road"]},
    {"name": "Trail running shoes", "description": "Grippy soles for trails", "category": "shoes", "brand": "Peak",
     "price": 119.5, "stock": 3, "in_stock": True, "created": "2024-02-03", "tags": ["sport", "trail"]},
    {"name": "Leather Boots", "description": "Waterproof leather boots", "category": "boots", "brand": "Acme",
     "price": 149.0, "stock": 0, "in_stock": False, "created": "2024-02-20T08:30:00Z", "tags": ["winter"]},
    {"name": "Laptop Stand", "description": "Aluminium stand for laptops", "category": "office", "brand": "Desk Co",
     "price": 39.0, "stock": 40, "in_stock": True, "created": "2024-03-01", "tags": ["office"]},
    {"name": "Wireless Keyboard", "description": "Quiet keys, long battery", "category": "office", "brand": "Desk Co",
     "price": 59.0, "stock": 25, "in_stock": True, "created": "2024-03-12", "tags": ["office", "wireless"]},
]
ok, errors = helpers.bulk(es, ({"_index": "products", "_id": str(i + 1), "_source": p} for i, p in enumerate(products)))
check(ok == 5 and not errors, (ok, errors))
es.indices.refresh(index="products")
check(es.count(index="products")["count"] == 5, "count after bulk")

# --- stemming: the seed's snowball analyzer -------------------------------------------
r = es.search(index="products", query={"match": {"name": "runs shoes"}})
check(ids(r) == ["1", "2"], ("stemming", r))
check(r["hits"]["total"] == {"value": 2, "relation": "eq"}, r["hits"]["total"])
check(r["hits"]["max_score"] == r["hits"]["hits"][0]["_score"], r)
r = es.search(index="products", query={"match": {"name": {"query": "running shoes", "operator": "and"}}})
check(ids(r) == ["1", "2"], ("operator and", r))
r = es.search(index="products", query={"match_phrase": {"name": "running shoes"}})
check(ids(r) == ["1", "2"], ("phrase, stemmed", r))
r = es.search(index="products", query={"match_phrase": {"name": "trail running"}})
check(ids(r) == ["2"], ("phrase", r))
r = es.search(index="products", query={"match_phrase": {"name": "shoes running"}})
check(ids(r) == [], ("phrase order", r))
r = es.search(index="products", query={"match_phrase": {"name": {"query": "trail shoes", "slop": 1}}})
check(ids(r) == ["2"], ("phrase slop", r))
analyzed = es.indices.analyze(index="products", analyzer="product_analyzer", text="Trail running shoes")
check([t["token"] for t in analyzed["tokens"]] == ["trail", "run", "shoe"], analyzed)

# --- typo tolerance -------------------------------------------------------------------
r = es.search(index="products", query={"match": {"name": {"query": "runnign shose", "fuzziness": "AUTO"}}})
check(ids(r) == ["1", "2"], ("fuzzy", r))
r = es.search(index="products", query={"match": {"name": {"query": "runnign shose"}}})
check(r["hits"]["total"]["value"] == 0, ("no fuzziness, no typo tolerance", r))
r = es.search(index="products", query={"multi_match": {"query": "keybord", "fields": ["name^2", "description"], "fuzziness": "AUTO"}})
check(ids(r) == ["5"], ("multi_match fuzzy", r))
r = es.search(index="products", query={"fuzzy": {"category": {"value": "bots"}}})
check(ids(r) == ["3"], ("fuzzy keyword", r))

# --- faceted search -------------------------------------------------------------------
r = es.search(
    index="products",
    size=0,
    query={"match_all": {}},
    aggs={
        "categories": {"terms": {"field": "category"}},
        "brands": {"terms": {"field": "brand", "size": 1}},
        "avg_price": {"avg": {"field": "price"}},
        "max_price": {"max": {"field": "price"}},
        "total_stock": {"sum": {"field": "stock"}},
        "price_ranges": {"range": {"field": "price", "ranges": [{"to": 50}, {"from": 50, "to": 100}, {"from": 100}]}},
        "per_month": {"date_histogram": {"field": "created", "calendar_interval": "month"}},
        "per_50": {"histogram": {"field": "price", "interval": 50}},
        "brand_count": {"cardinality": {"field": "brand"}},
        "priced": {"value_count": {"field": "price"}},
        "by_cat": {"terms": {"field": "category", "order": {"_key": "asc"}}, "aggs": {"avg": {"avg": {"field": "price"}}}},
        "cheap": {"filter": {"range": {"price": {"lt": 60}}}, "aggs": {"n": {"value_count": {"field": "price"}}}},
        "stocked": {"terms": {"field": "in_stock"}},
    },
)
a = r["aggregations"]
check(r["hits"]["hits"] == [] and r["hits"]["total"]["value"] == 5, r["hits"])
cats = {b["key"]: b["doc_count"] for b in a["categories"]["buckets"]}
check(cats == {"shoes": 2, "office": 2, "boots": 1}, a["categories"])
check(a["categories"]["buckets"][0]["doc_count"] == 2, a["categories"])
check(len(a["brands"]["buckets"]) == 1 and a["brands"]["sum_other_doc_count"] == 3, a["brands"])
check(abs(a["avg_price"]["value"] - (89.99 + 119.5 + 149 + 39 + 59) / 5) < 1e-6, a["avg_price"])
check(a["max_price"]["value"] == 149.0, a["max_price"])
check(a["total_stock"]["value"] == 80, a["total_stock"])
check([b["doc_count"] for b in a["price_ranges"]["buckets"]] == [1, 2, 2], a["price_ranges"])
months = [(b["key_as_string"][:7], b["doc_count"]) for b in a["per_month"]["buckets"]]
check(months == [("2024-01", 1), ("2024-02", 2), ("2024-03", 2)], a["per_month"])
check(a["per_month"]["buckets"][0]["key"] == 1704067200000, a["per_month"])
check([(b["key"], b["doc_count"]) for b in a["per_50"]["buckets"]] == [(0.0, 1), (50.0, 2), (100.0, 2)], a["per_50"])
check(a["brand_count"]["value"] == 3, a["brand_count"])
check(a["priced"]["value"] == 5, a["priced"])
check([b["key"] for b in a["by_cat"]["buckets"]] == ["boots", "office", "shoes"], a["by_cat"])
check(a["by_cat"]["buckets"][1]["avg"]["value"] == 49.0, a["by_cat"])
check(a["cheap"]["doc_count"] == 2 and a["cheap"]["n"]["value"] == 2, a["cheap"])
stocked = {b["key_as_string"]: b["doc_count"] for b in a["stocked"]["buckets"]}
check(stocked == {"true": 4, "false": 1}, a["stocked"])

# Facet selection narrows the hits but not the facet counts (post_filter).
r = es.search(
    index="products",
    query={"match": {"description": "for"}},
    post_filter={"term": {"category": "shoes"}},
    aggs={"categories": {"terms": {"field": "category"}}},
)
check(ids(r) == ["1", "2"], ("post_filter", r))
check({b["key"] for b in r["aggregations"]["categories"]["buckets"]} == {"shoes", "office"}, r["aggregations"])

# --- autocomplete ---------------------------------------------------------------------
r = es.search(index="products", query={"match": {"name.suggest": "trai"}})
check(ids(r) == ["2"], ("edge ngram autocomplete", r))
r = es.search(index="products", query={"match": {"name.suggest": "la"}})
check(ids(r) == ["4"], ("edge ngram two letters", r))
r = es.search(index="products", query={"match_phrase_prefix": {"description": "grippy so"}})
check(ids(r) == ["2"], ("match_phrase_prefix", r))
r = es.search(index="products", query={"match_phrase_prefix": {"name": "key"}})
check(ids(r) == ["5"], ("match_phrase_prefix single term", r))
r = es.search(index="products", query={"prefix": {"name.keyword": "Lap"}})
check(ids(r) == ["4"], ("prefix keyword", r))
r = es.search(index="products", query={"multi_match": {"query": "wire", "type": "bool_prefix", "fields": ["name", "description"]}})
check(ids(r) == ["5"], ("bool_prefix", r))

# --- bool and term-level queries ------------------------------------------------------
r = es.search(index="products", query={"bool": {
    "must": [{"match": {"description": "for"}}],
    "filter": [{"range": {"price": {"gte": 40, "lte": 120}}}, {"term": {"in_stock": True}}],
    "must_not": [{"term": {"brand": "Peak"}}],
}})
check(ids(r) == ["1"], ("bool", r))
r = es.search(index="products", query={"bool": {"should": [{"term": {"category": "boots"}}, {"term": {"tags": "wireless"}}]}})
check(ids(r) == ["3", "5"], ("should", r))
r = es.search(index="products", query={"bool": {"filter": {"terms": {"tags": ["trail", "winter"]}}}})
check(ids(r) == ["2", "3"], ("terms", r))
check(all(h["_score"] == 0.0 for h in r["hits"]["hits"]), ("filter scores 0", r))
r = es.search(index="products", query={"range": {"created": {"gte": "2024-02-01", "lt": "2024-03-01"}}})
check(ids(r) == ["2", "3"], ("date range", r))
r = es.search(index="products", query={"range": {"created": {"gte": "2024-03-01||/M", "lte": "now"}}})
check(ids(r) == ["4", "5"], ("date math", r))
r = es.search(index="products", query={"exists": {"field": "tags"}})
check(r["hits"]["total"]["value"] == 5, r)
r = es.search(index="products", query={"ids": {"values": ["2", "4", "99"]}})
check(ids(r) == ["2", "4"], ("ids", r))
r = es.search(index="products", query={"wildcard": {"brand": {"value": "*co"}}})
check(r["hits"]["total"]["value"] == 0, ("wildcard is case sensitive", r))
r = es.search(index="products", query={"wildcard": {"brand": {"value": "*co", "case_insensitive": True}}})
check(ids(r) == ["4", "5"], ("wildcard ci", r))
r = es.search(index="products", query={"term": {"name": "shoe"}})
check(ids(r) == ["1", "2"], ("term on analysed text", r))
r = es.search(index="products", query={"term": {"name.keyword": "Running Shoe"}})
check(ids(r) == ["1"], ("term on keyword", r))
r = es.search(index="products", query={"constant_score": {"filter": {"term": {"category": "office"}}, "boost": 2.5}})
check([h["_score"] for h in r["hits"]["hits"]] == [2.5, 2.5], r)
r = es.search(index="products", query={"dis_max": {"queries": [{"match": {"name": "boots"}}, {"match": {"description": "boots"}}]}})
check(ids(r) == ["3"], r)
r = es.search(index="products", query={"simple_query_string": {"query": "shoe -trail", "fields": ["name"]}})
check(ids(r) == ["1"], ("simple_query_string", r))
r = es.search(index="products", q="category:shoes AND name:trail")
check(ids(r) == ["2"], ("q with fields and AND", r))
r = es.search(index="products", q='name:"running shoe"')
check(ids(r) == ["1", "2"], ("q phrase", r))
r = es.search(index="products", q="category:shoes NOT brand:Peak")
check(ids(r) == ["1"], ("q NOT", r))
check(es.count(index="products", q="category:office")["count"] == 2, "count with q")

# --- sorting, paging, source filtering, highlighting -----------------------------------
r = es.search(index="products", sort=[{"price": "desc"}], size=2, source=["name", "price"])
check([h["_id"] for h in r["hits"]["hits"]] == ["3", "2"], r)
check(r["hits"]["hits"][0]["sort"] == [149.0] and r["hits"]["hits"][0]["_score"] is None, r["hits"]["hits"][0])
check(set(r["hits"]["hits"][0]["_source"]) == {"name", "price"}, r["hits"]["hits"][0])
page2 = es.search(index="products", sort=[{"price": "desc"}], size=2, search_after=r["hits"]["hits"][-1]["sort"])
check([h["_id"] for h in page2["hits"]["hits"]] == ["1", "5"], page2)
r = es.search(index="products", sort=[{"name.keyword": "asc"}], from_=1, size=2)
check([h["_id"] for h in r["hits"]["hits"]] == ["3", "1"], r)
r = es.search(index="products", sort=["_score", {"created": {"order": "asc"}}], query={"match": {"category": "office"}})
check([h["_id"] for h in r["hits"]["hits"]] == ["4", "5"], r)
r = es.search(index="products", query={"match": {"description": "leather"}}, highlight={"fields": {"description": {}}})
check(r["hits"]["hits"][0]["highlight"]["description"] == ["Waterproof <em>leather</em> boots"], r["hits"]["hits"][0])
try:
    es.search(index="products", sort=[{"name": "asc"}])
    raise AssertionError("sorting on a text field succeeded")
except BadRequestError as e:
    check("Text fields are not optimised" in str(e.info), e.info)

# --- documents: get, update, conflicts, delete ----------------------------------------
doc = es.get(index="products", id="1")
check(doc["found"] and doc["_source"]["name"] == "Running Shoe" and doc["_version"] == 1, doc)
check(es.exists(index="products", id="1"), "doc exists")
check(not es.exists(index="products", id="404"), "missing doc exists")
try:
    es.get(index="products", id="404")
    raise AssertionError("missing doc found")
except NotFoundError as e:
    check(e.body["found"] is False, e.body)
upd = es.update(index="products", id="1", doc={"price": 79.99, "stock": 11})
check(upd["result"] == "updated" and upd["_version"] == 2, upd)
noop = es.update(index="products", id="1", doc={"price": 79.99})
check(noop["result"] == "noop", noop)
after = es.get(index="products", id="1")["_source"]
check(after["price"] == 79.99 and after["name"] == "Running Shoe", after)
ups = es.update(index="products", id="6", doc={"name": "Yoga Mat", "category": "fitness", "price": 25}, doc_as_upsert=True)
check(ups["result"] == "created", ups)
try:
    es.create(index="products", id="6", document={"name": "dup"})
    raise AssertionError("create over an existing doc succeeded")
except ConflictError as e:
    check(e.error == "version_conflict_engine_exception", e)
seq = es.get(index="products", id="6")
try:
    es.index(index="products", id="6", document={"name": "stale"}, if_seq_no=seq["_seq_no"] + 100, if_primary_term=1)
    raise AssertionError("stale optimistic write succeeded")
except ConflictError:
    pass
es.index(index="products", id="6", document={"name": "Yoga Mat Pro", "category": "fitness", "price": 35},
         if_seq_no=seq["_seq_no"], if_primary_term=seq["_primary_term"], refresh=True)
r = es.search(index="products", query={"match": {"name": "yoga"}})
check(ids(r) == ["6"] and r["hits"]["hits"][0]["_source"]["price"] == 35, r)
auto = es.index(index="products", document={"name": "Water Bottle", "category": "fitness"}, refresh="wait_for")
check(auto["result"] == "created" and len(auto["_id"]) >= 20, auto)
deleted = es.delete(index="products", id=auto["_id"])
check(deleted["result"] == "deleted", deleted)
try:
    es.delete(index="products", id=auto["_id"])
    raise AssertionError("double delete succeeded")
except NotFoundError as e:
    check(e.body["result"] == "not_found", e.body)
m = es.mget(index="products", ids=["1", "404"])
check([d["found"] for d in m["docs"]] == [True, False], m)

# --- bulk with per-item results and errors --------------------------------------------
resp = es.bulk(operations=[
    {"index": {"_index": "products", "_id": "10"}}, {"name": "Tennis Racket", "category": "sport", "price": 120},
    {"create": {"_index": "products", "_id": "1"}}, {"name": "duplicate"},
    {"update": {"_index": "products", "_id": "10"}}, {"doc": {"stock": 7}},
    {"delete": {"_index": "products", "_id": "6"}},
    {"index": {"_index": "products", "_id": "11"}}, {"price": "not a number"},
], refresh=True)
check(resp["errors"] is True, resp)
statuses = [list(i.values())[0]["status"] for i in resp["items"]]
check(statuses == [201, 409, 200, 200, 400], statuses)
check(resp["items"][4]["index"]["error"]["type"] == "mapper_parsing_exception", resp["items"][4])
check(es.get(index="products", id="10")["_source"]["stock"] == 7, "bulk update")

# --- dynamic mapping and mapping updates ----------------------------------------------
es.index(index="events", id="e1", document={"kind": "signup", "user": {"plan": "pro"}, "at": "2024-05-01T12:00:00Z", "n": 3}, refresh=True)
m = es.indices.get_mapping(index="events")["events"]["mappings"]["properties"]
check(m["kind"]["type"] == "text" and m["kind"]["fields"]["keyword"]["type"] == "keyword", m)
check(m["user"]["properties"]["plan"]["type"] == "text" and m["at"]["type"] == "date" and m["n"]["type"] == "long", m)
r = es.search(index="events", query={"term": {"kind.keyword": "signup"}})
check(ids(r) == ["e1"], r)
es.indices.put_mapping(index="events", properties={"score": {"type": "double"}})
check(es.indices.get_mapping(index="events")["events"]["mappings"]["properties"]["score"]["type"] == "double", "put mapping")
try:
    es.indices.put_mapping(index="events", properties={"n": {"type": "keyword"}})
    raise AssertionError("type change accepted")
except BadRequestError as e:
    check(e.error == "illegal_argument_exception", e)

# --- delete by query, count, cat, health ----------------------------------------------
dbq = es.delete_by_query(index="products", query={"term": {"category": "office"}}, refresh=True)
check(dbq["deleted"] == 2, dbq)
check(es.count(index="products", query={"term": {"category": "office"}})["count"] == 0, "office gone")
cat = es.cat.indices(format="json")
names = {row["index"]: row for row in cat}
check(set(names) == {"products", "events"}, cat)
check(names["products"]["health"] == "green" and names["events"]["health"] == "yellow", cat)
check(int(names["products"]["docs.count"]) == es.count(index="products")["count"], cat)
health = es.cluster.health(wait_for_status="yellow")
check(health["status"] == "yellow" and health["number_of_nodes"] == 1, health)
r = es.search(index="products,events", query={"match_all": {}}, size=100)
check({h["_index"] for h in r["hits"]["hits"]} == {"products", "events"}, r)

# --- aliases: an ETL's build-then-swap --------------------------------------------------
es.indices.create(index="catalog-v1", aliases={"catalog": {}})
es.index(index="catalog", id="1", document={"name": "v1"}, refresh=True)
check(es.get(index="catalog", id="1")["_index"] == "catalog-v1", "write through an alias")
es.indices.create(index="catalog-v2")
es.index(index="catalog-v2", id="1", document={"name": "v2"}, refresh=True)
es.indices.update_aliases(actions=[
    {"remove": {"index": "catalog-v1", "alias": "catalog"}},
    {"add": {"index": "catalog-v2", "alias": "catalog"}},
])
r = es.search(index="catalog")
check([(h["_index"], h["_source"]["name"]) for h in r["hits"]["hits"]] == [("catalog-v2", "v2")], r)
check(dict(es.indices.get_alias(name="catalog")) == {"catalog-v2": {"aliases": {"catalog": {}}}}, "get alias")
check(es.indices.exists_alias(name="catalog") and not es.indices.exists_alias(name="nope"), "exists alias")
es.indices.put_alias(index="catalog-v1", name="catalog")
check(es.search(index="catalog")["hits"]["total"]["value"] == 2, "alias over two indices")
try:
    es.index(index="catalog", id="2", document={"name": "ambiguous"})
    raise AssertionError("write through an alias without a write index succeeded")
except BadRequestError as e:
    check("no write index" in str(e.info), e.info)
try:
    es.indices.delete(index="catalog")
    raise AssertionError("deleting an alias as an index succeeded")
except BadRequestError:
    pass
es.indices.update_aliases(actions=[{"remove_index": {"index": "catalog-v1"}}])
check(not es.indices.exists(index="catalog-v1"), "remove_index")
check(dict(es.indices.get_alias(name="catalog")) == {"catalog-v2": {"aliases": {"catalog": {}}}}, "alias after remove_index")
es.indices.delete(index="catalog-v2")

# --- reindex and msearch --------------------------------------------------------------
helpers.bulk(es, [{"_index": "src", "_id": str(i), "_source": {"kind": k, "n": i}} for i, k in enumerate("aab")], refresh=True)
r = es.reindex(source={"index": "src", "query": {"term": {"kind.keyword": "a"}}}, dest={"index": "dst"}, refresh=True)
check(r["total"] == 2 and r["created"] == 2 and r["failures"] == [], r)
check(sorted(h["_id"] for h in es.search(index="dst")["hits"]["hits"]) == ["0", "1"], "reindexed")
m = es.msearch(searches=[
    {"index": "src"}, {"query": {"match_all": {}}},
    {"index": "dst"}, {"query": {"term": {"n": 1}}},
    {"index": "missing"}, {"query": {"match_all": {}}},
])
check([x["status"] for x in m["responses"]] == [200, 200, 404], m)
check(m["responses"][0]["hits"]["total"]["value"] == 3 and m["responses"][1]["hits"]["total"]["value"] == 1, m)
es.indices.delete(index="src")
es.indices.delete(index="dst")

# --- the completion suggester ----------------------------------------------------------
es.indices.create(index="suggestions", mappings={"properties": {"suggest": {"type": "completion"}, "name": {"type": "text"}}})
helpers.bulk(es, [
    {"_index": "suggestions", "_id": "1", "_source": {"name": "Laptop Stand", "suggest": {"input": ["Laptop Stand", "Stand"], "weight": 5}}},
    {"_index": "suggestions", "_id": "2", "_source": {"name": "Laptop Sleeve", "suggest": {"input": "Laptop Sleeve", "weight": 10}}},
    {"_index": "suggestions", "_id": "3", "_source": {"name": "Lamp", "suggest": "Lamp"}},
], refresh=True)
r = es.search(index="suggestions", suggest={"s": {"prefix": "lap", "completion": {"field": "suggest"}}})
opts = r["suggest"]["s"][0]["options"]
check([(o["text"], o["_id"], o["_score"]) for o in opts] == [("Laptop Sleeve", "2", 10.0), ("Laptop Stand", "1", 5.0)], opts)
check(opts[0]["_source"]["name"] == "Laptop Sleeve", opts)
r = es.search(index="suggestions", suggest={"s": {"prefix": "Sta", "completion": {"field": "suggest"}}})
check([o["text"] for o in r["suggest"]["s"][0]["options"]] == ["Stand"], r["suggest"])
r = es.search(index="suggestions", suggest={"s": {"prefix": "lpatop", "completion": {"field": "suggest", "fuzzy": {"fuzziness": 2}}}})
check({o["_id"] for o in r["suggest"]["s"][0]["options"]} == {"1", "2"}, ("fuzzy completion", r["suggest"]))
es.indices.delete(index="suggestions")

# --- scroll (helpers.scan) -------------------------------------------------------------
n = es.count(index="products")["count"]
scanned = list(helpers.scan(es, index="products", size=2, query={"query": {"match_all": {}}}))
check(len(scanned) == n and len({d["_id"] for d in scanned}) == n, ("scan", n, scanned))
r = es.search(index="products", scroll="1m", size=2, sort=["_doc"], query={"match_all": {}})
sid, seen = r["_scroll_id"], [h["_id"] for h in r["hits"]["hits"]]
check(r["hits"]["total"]["value"] == n and len(seen) == 2, r)
while True:
    r = es.scroll(scroll_id=sid, scroll="1m")
    if not r["hits"]["hits"]:
        break
    seen += [h["_id"] for h in r["hits"]["hits"]]
check(sorted(seen) == sorted(d["_id"] for d in scanned), seen)
check(es.clear_scroll(scroll_id=sid)["num_freed"] == 1, "clear scroll")
try:
    es.scroll(scroll_id=sid, scroll="1m")
    raise AssertionError("a cleared scroll answered")
except NotFoundError as e:
    check(e.error == "search_context_missing_exception", e)

# --- errors are Elasticsearch's ---------------------------------------------------------
try:
    es.search(index="products", query={"no_such_query": {}})
    raise AssertionError("unknown query accepted")
except BadRequestError as e:
    check(e.error == "parsing_exception", e)
try:
    es.search(index="missing-index", query={"match_all": {}})
    raise AssertionError("search of a missing index succeeded")
except NotFoundError as e:
    check(e.error == "index_not_found_exception", e)
try:
    es.search(index="products", query={"nested": {"path": "x", "query": {"match_all": {}}}})
    raise AssertionError("nested accepted")
except BadRequestError as e:
    check("vers search" in str(e.info), e.info)

es.indices.delete(index="events")
check(not es.indices.exists(index="events"), "deleted index")
print("es8 client checks passed")
