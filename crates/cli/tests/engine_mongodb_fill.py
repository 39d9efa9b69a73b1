"""A MongoDB client filling a disk: `before` writes a kept document, `fill` inserts 4 MB
documents until the server refuses one, `after` counts the kept documents and writes one
more (prints `1 True` on a server that works)."""
import sys
from pymongo import MongoClient
c = MongoClient("mongodb://mongodb/app", serverSelectionTimeoutMS=10000)
db = c.get_default_database()
if sys.argv[1] == "before":
    db.kept.insert_one({"k": 1})
    print("ok")
elif sys.argv[1] == "fill":
    blob = "x" * (4 << 20)
    n = 0
    try:
        for i in range(400):
            db.blobs.insert_one({"b": blob}); n += 1
    except Exception as e:
        print("failed after", n, type(e).__name__)
else:
    print(db.kept.count_documents({}), db.kept.insert_one({"k": 2}).acknowledged)
