"""pymongo against a vers `mongodb` service: checks what the template set up, writes and reads.

    python mongodb_client.py COMMAND URL
"""

import sys

from pymongo import ASCENDING, DESCENDING, MongoClient, ReturnDocument
from pymongo.errors import DuplicateKeyError, OperationFailure


def client(url):
    return MongoClient(url, serverSelectionTimeoutMS=10000)


def check_setup(url):
    """The seed's `databases` exist; the configured indexes exist with their options and order."""
    c = client(url)
    assert "inventory" in c.list_database_names(), c.list_database_names()
    assert "orders" in c.list_database_names(), c.list_database_names()
    info = c.inventory.products.index_information()
    assert info["sku_1"].get("unique") is True, info
    assert info["category_price"]["key"] == [("category", 1), ("price", -1)], info
    # `orders` got no collection from `indexes`, so it holds vers's marker collection.
    assert c.orders.list_collection_names() == ["_vers"], c.orders.list_collection_names()


def write(url):
    """CRUD, update operators, a unique index violation, aggregation and a transaction."""
    c = client(url)
    products = c.inventory.products
    products.insert_many(
        [
            {"sku": "A-1", "category": "shoes", "price": 120, "stock": 3, "tags": []},
            {"sku": "A-2", "category": "shoes", "price": 80, "stock": 0, "tags": []},
            {"sku": "B-1", "category": "hats", "price": 25, "stock": 9, "tags": []},
        ]
    )
    try:
        products.insert_one({"sku": "A-1", "category": "dup"})
        raise AssertionError("a duplicate sku was accepted")
    except DuplicateKeyError as e:
        assert e.code == 11000, e.code
    products.update_one({"sku": "A-1"}, {"$inc": {"stock": -1}, "$push": {"tags": "sale"}, "$set": {"on_sale": True}})
    doc = products.find_one_and_update(
        {"sku": "B-1"}, {"$inc": {"stock": 1}}, return_document=ReturnDocument.AFTER
    )
    assert doc["stock"] == 10, doc
    top = list(products.find({"stock": {"$gt": 0}}, {"_id": 0, "sku": 1}).sort("price", DESCENDING).limit(1))
    assert top == [{"sku": "A-1"}], top
    totals = list(
        products.aggregate(
            [
                {"$match": {"price": {"$gte": 20}}},
                {"$group": {"_id": "$category", "n": {"$sum": 1}, "value": {"$sum": "$price"}}},
                {"$sort": {"_id": ASCENDING}},
            ]
        )
    )
    assert totals == [{"_id": "hats", "n": 1, "value": 25}, {"_id": "shoes", "n": 2, "value": 200}], totals
    with c.start_session() as s:
        with s.start_transaction():
            c.inventory.reservations.insert_one({"sku": "A-1", "qty": 1}, session=s)
            products.update_one({"sku": "A-1"}, {"$inc": {"stock": -1}}, session=s)
    assert products.count_documents({}) == 3
    assert products.find_one({"sku": "A-1"})["stock"] == 1
    products.delete_one({"sku": "A-2"})
    c.inventory.scratch.insert_one({"x": 1})
    c.inventory.drop_collection("scratch")
    assert "scratch" not in c.inventory.list_collection_names()


def read(url):
    """What `write` left, as a copy of the data directory must still hold it."""
    c = client(url)
    products = c.inventory.products
    docs = {d["sku"]: d for d in products.find({}, {"_id": 0})}
    assert set(docs) == {"A-1", "B-1"}, docs
    assert docs["A-1"]["stock"] == 1 and docs["A-1"]["tags"] == ["sale"], docs
    assert c.inventory.reservations.count_documents({"sku": "A-1"}) == 1
    info = products.index_information()
    assert info["sku_1"].get("unique") is True, info
    try:
        products.insert_one({"sku": "B-1"})
        raise AssertionError("the unique index was lost in the copy")
    except DuplicateKeyError:
        pass


def auth(url):
    """`url` holds the root credentials; without them every command needing auth fails."""
    c = client(url)
    c.inventory.items.insert_one({"a": 1})
    assert c.inventory.items.count_documents({}) == 1
    host = url.split("@", 1)[1].split("/", 1)[0]
    anonymous = client(f"mongodb://{host}/")
    try:
        anonymous.inventory.items.count_documents({})
        raise AssertionError("an unauthenticated client could read")
    except OperationFailure as e:
        assert e.code == 13, e.code
    wrong = client(f"mongodb://root:wrong@{host}/?authSource=admin")
    try:
        wrong.inventory.items.count_documents({})
        raise AssertionError("a wrong password was accepted")
    except OperationFailure as e:
        assert e.code == 18, e.code


COMMANDS = {"check-setup": check_setup, "write": write, "read": read, "auth": auth}

COMMANDS[sys.argv[1]](sys.argv[2])
print("ok")
