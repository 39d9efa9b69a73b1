"""vers's schema registry judged by Confluent's own Python client (confluent-kafka's
SchemaRegistryClient, AvroSerializer and AvroDeserializer) and plain HTTP (requests).

usage: schema_registry_client.py BASE_URL full
       schema_registry_client.py BASE_URL before|after STATE_FILE
"""

import json
import sys

import requests
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

USER_V1 = json.dumps({
    "type": "record", "name": "User", "namespace": "events",
    "fields": [{"name": "id", "type": "long"}, {"name": "name", "type": "string"}],
})
# Adds a field with a default: backward compatible.
USER_V2 = json.dumps({
    "type": "record", "name": "User", "namespace": "events",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": "string"},
        {"name": "email", "type": "string", "default": ""},
    ],
})
# Adds a field without a default: new readers cannot read old data.
USER_BAD = json.dumps({
    "type": "record", "name": "User", "namespace": "events",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": "string"},
        {"name": "age", "type": "int"},
    ],
})


def client(base):
    # A fresh client each time, so answers come from the server, not the client's cache.
    return SchemaRegistryClient({"url": base})


def expect_error(status, code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except SchemaRegistryError as e:
        assert (e.http_status_code, e.error_code) == (status, code), f"{fn.__name__}: {e!r}"
        return e
    raise AssertionError(f"{fn.__name__} should have failed with {status}/{code}")


def full(base):
    sr = client(base)
    assert sr.get_subjects() == [], sr.get_subjects()
    assert sorted(sr.get_schema_types()) == ["AVRO", "JSON", "PROTOBUF"]

    # Register: an id; the same schema again (other spacing) is the same id and version.
    id1 = sr.register_schema("users-value", Schema(USER_V1, "AVRO"))
    same = client(base).register_schema("users-value", Schema(json.dumps(json.loads(USER_V1), indent=2), "AVRO"))
    assert same == id1, (same, id1)
    assert client(base).get_versions("users-value") == [1]
    # The same schema under another subject shares the id.
    assert client(base).register_schema("audit-value", Schema(USER_V1, "AVRO")) == id1

    # Fetch by id and by version.
    fetched = client(base).get_schema(id1)
    assert fetched.schema_type == "AVRO" and json.loads(fetched.schema_str) == json.loads(USER_V1), fetched
    latest = client(base).get_latest_version("users-value")
    assert (latest.version, latest.schema_id, latest.subject) == (1, id1, "users-value"), latest
    found = client(base).lookup_schema("users-value", Schema(USER_V1, "AVRO"))
    assert (found.version, found.schema_id) == (1, id1), found
    expect_error(404, 40403, client(base).lookup_schema, "users-value", Schema(USER_V2, "AVRO"))
    expect_error(404, 40401, client(base).get_latest_version, "nobody-value")
    expect_error(404, 40403, client(base).get_schema, 9999)
    expect_error(422, 42201, client(base).register_schema, "users-value", Schema('{"type": "record", "name": "X"}', "AVRO"))

    # Avro records through the serializer and deserializer, framed with the schema id.
    ctx = SerializationContext("users", MessageField.VALUE)
    serializer = AvroSerializer(client(base), USER_V1)
    data = serializer({"id": 7, "name": "Ada"}, ctx)
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == id1, data[:5]
    record = AvroDeserializer(client(base))(data, ctx)
    assert record == {"id": 7, "name": "Ada"}, record

    # Compatibility: BACKWARD by default.
    assert client(base).get_compatibility() == "BACKWARD"
    expect_error(404, 40408, client(base).get_compatibility, "users-value")
    assert client(base).test_compatibility("users-value", Schema(USER_V2, "AVRO")) is True
    assert client(base).test_compatibility("users-value", Schema(USER_BAD, "AVRO")) is False
    e = expect_error(409, 409, client(base).register_schema, "users-value", Schema(USER_BAD, "AVRO"))
    assert "incompatible" in e.error_message, e.error_message
    id2 = client(base).register_schema("users-value", Schema(USER_V2, "AVRO"))
    assert id2 != id1 and client(base).get_versions("users-value") == [1, 2]
    # Data written with v1 reads with the v2 serializer's subject in place.
    v2_data = AvroSerializer(client(base), USER_V2)({"id": 8, "name": "Bo", "email": "b@x"}, ctx)
    assert AvroDeserializer(client(base))(v2_data, ctx) == {"id": 8, "name": "Bo", "email": "b@x"}

    # Levels: per subject, then global, checked and reported.
    assert client(base).set_compatibility("users-value", "NONE") == {"compatibility": "NONE"}
    assert client(base).get_compatibility("users-value") == "NONE"
    id3 = client(base).register_schema("users-value", Schema(USER_BAD, "AVRO"))
    assert client(base).get_versions("users-value") == [1, 2, 3]
    assert client(base).set_compatibility(level="FULL_TRANSITIVE") == {"compatibility": "FULL_TRANSITIVE"}
    assert client(base).get_compatibility() == "FULL_TRANSITIVE"
    assert client(base).get_compatibility("users-value") == "NONE"
    expect_error(422, 42203, client(base).set_compatibility, level="SIDEWAYS")
    # audit-value follows the global FULL_TRANSITIVE: adding a defaulted field is fine both ways,
    # changing a type is not.
    assert client(base).test_compatibility("audit-value", Schema(USER_V2, "AVRO")) is True
    widened = json.dumps({"type": "record", "name": "User", "namespace": "events",
                          "fields": [{"name": "id", "type": "double"}, {"name": "name", "type": "string"}]})
    assert client(base).test_compatibility("audit-value", Schema(widened, "AVRO")) is False
    r = requests.post(f"{base}/compatibility/subjects/audit-value/versions/latest?verbose=true",
                      json={"schema": widened})
    assert r.status_code == 200 and r.json()["is_compatible"] is False and r.json()["messages"], r.text

    # JSON schemas are stored and served with their type.
    json_id = client(base).register_schema("doc-value", Schema('{"type": "object"}', "JSON"))
    assert client(base).get_schema(json_id).schema_type == "JSON"

    # Deletes: soft (still readable by id and with deleted), then permanent.
    assert client(base).delete_version("users-value", 3) == 3
    assert client(base).get_versions("users-value") == [1, 2]
    assert client(base).get_versions("users-value", deleted=True) == [1, 2, 3]
    assert client(base).get_schema(id3).schema_type == "AVRO"
    expect_error(404, 40407, client(base).delete_version, "users-value", 2, permanent=True)
    assert client(base).delete_version("users-value", 3, permanent=True) == 3
    expect_error(404, 40403, client(base).get_schema, id3)
    assert client(base).delete_subject("audit-value") == [1]
    assert sorted(client(base).get_subjects()) == ["doc-value", "users-value"]
    expect_error(404, 40404, client(base).delete_subject, "audit-value")
    assert client(base).delete_subject("audit-value", permanent=True) == [1]
    expect_error(404, 40401, client(base).get_versions, "audit-value", deleted=True)
    # id1 is still used by users-value version 1.
    assert client(base).get_schema(id1).schema_type == "AVRO"

    # Plain HTTP: the root, the media type, the error shape, a raw schema.
    r = requests.get(f"{base}/")
    assert r.status_code == 200 and r.json() == {}, r.text
    r = requests.get(f"{base}/subjects", headers={"Accept": "application/vnd.schemaregistry.v1+json"})
    assert r.headers["content-type"] == "application/vnd.schemaregistry.v1+json", r.headers
    r = requests.get(f"{base}/subjects/nobody/versions")
    assert r.status_code == 404 and r.json() == {"error_code": 40401, "message": "Subject 'nobody' not found."}, r.text
    r = requests.get(f"{base}/subjects/users-value/versions/2/schema")
    assert json.loads(r.text) == json.loads(USER_V2), r.text
    r = requests.get(f"{base}/subjects/users-value/versions/zero")
    assert r.status_code == 422 and r.json()["error_code"] == 42202, r.text
    r = requests.get(f"{base}/schemas/ids/{id1}/versions")
    assert r.json() == [{"subject": "users-value", "version": 1}], r.text
    print("schema registry client checks passed")


def before(base, state_file):
    sr = client(base)
    sid = sr.register_schema("orders-value", Schema(USER_V1, "AVRO"))
    sr.set_compatibility("orders-value", "FORWARD")
    with open(state_file, "w") as f:
        json.dump({"id": sid}, f)
    print(f"registered {sid}")


def after(base, state_file):
    with open(state_file) as f:
        sid = json.load(f)["id"]
    sr = client(base)
    assert sr.get_subjects() == ["orders-value"], sr.get_subjects()
    assert sr.get_latest_version("orders-value").schema_id == sid
    assert json.loads(sr.get_schema(sid).schema_str) == json.loads(USER_V1)
    assert sr.get_compatibility("orders-value") == "FORWARD"
    # Ids are never reused after a restart.
    nid = sr.register_schema("other-value", Schema(USER_V2, "AVRO"))
    assert nid > sid, (nid, sid)
    print(f"phase after passed ({sid} then {nid})")


if __name__ == "__main__":
    base, phase = sys.argv[1], sys.argv[2]
    if phase == "full":
        full(base)
    elif phase == "before":
        before(base, sys.argv[3])
    elif phase == "after":
        after(base, sys.argv[3])
    else:
        raise SystemExit(f"unknown phase {phase}")
