"""vers's steps for a MongoDB-compatible server, run with the Python of the engine's virtual
environment (pymongo comes with it).

    python -c SCRIPT setup PLAN_JSON     create indexes, databases (see below), replica set
    python -c SCRIPT fsync               flush the server's journal to its files (before a checkpoint)
    python -c SCRIPT root-user DATA_DIR  SecantusDB only: store the root user in a stopped
                                         server's data directory, so the first start needs auth

The server URL comes from VERS_MONGODB_URL, the root password from VERS_MONGODB_ROOT_PASSWORD.

MongoDB creates a database when its first collection is; a database named in `databases` that
gets no collection from `indexes` is given an empty collection named `_vers`, so it exists.
"""

import json
import os
import sys
import time

MARKER_COLLECTION = "_vers"


def client():
    from pymongo import MongoClient

    return MongoClient(os.environ["VERS_MONGODB_URL"], serverSelectionTimeoutMS=20000)


def setup(plan):
    c = client()
    rs = plan.get("replica_set")
    if rs:
        try:
            c.admin.command("replSetGetStatus")
        except Exception:
            c.admin.command(
                "replSetInitiate",
                {"_id": rs["name"], "members": [{"_id": 0, "host": rs["host"]}]},
            )
        deadline = time.time() + 30
        while not c.admin.command("hello").get("isWritablePrimary"):
            if time.time() > deadline:
                sys.exit("the replica set has no primary 30 s after replSetInitiate")
            time.sleep(0.2)
    for ix in plan["indexes"]:
        keys = [(k, v) for k, v in ix["keys"]]
        c[ix["db"]][ix["collection"]].create_index(keys, **ix["options"])
        print(f"index {ix['db']}.{ix['collection']} {keys}")
    for name in plan["databases"]:
        db = c[name]
        if not db.list_collection_names():
            db.create_collection(MARKER_COLLECTION)
        print(f"database {name}")


def fsync():
    print(client().admin.command("fsync"))


def root_user(data_dir):
    from secantus.auth import SCRAM_SHA_1, SCRAM_SHA_256, derive_credentials
    from secantus.storage import Storage

    password = os.environ["VERS_MONGODB_ROOT_PASSWORD"]
    credentials = {}
    mechanisms = [SCRAM_SHA_256, SCRAM_SHA_1]
    for mechanism in mechanisms:
        credentials.update(
            derive_credentials(password, mechanism=mechanism, username="root").to_doc()
        )
    record = {
        "_id": "admin.root",
        "user": "root",
        "db": "admin",
        "credentials": credentials,
        "roles": [{"role": "root", "db": "admin"}],
        "mechanisms": mechanisms,
    }
    storage = Storage(data_dir, enable_oplog=False)
    try:
        storage.add_user("admin", "root", record, replace=True)
    finally:
        storage.close()


def main():
    command = sys.argv[1]
    if command == "setup":
        setup(json.loads(sys.argv[2]))
    elif command == "fsync":
        fsync()
    elif command == "root-user":
        root_user(sys.argv[2])
    else:
        sys.exit(f"unknown command {command}")


main()
