"""Avro records through a vers environment's kafka service and its Schema Registry, run
inside the environment by tests/engine_kafka.rs: the broker at kafka:9092, the registry at
kafka:8081, with confluent-kafka's SchemaRegistryClient, AvroSerializer and AvroDeserializer.

seed:   registers the Inventory schema (subject inventory-events-value, id 1) by producing one
        Avro record to inventory-events, and reads it back.
branch: checks the checkpoint's schema and record, then registers its own version 2 of the
        subject (a field defaulting to MARK) by producing a record with it: the id must be 2,
        the first new id of its own registry, and no other branch's subject or version shows.
state:  prints the subjects with their versions and the latest version's default mark.
"""

import json
import os
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

BOOTSTRAP = "kafka:9092"
REGISTRY = "http://kafka:8081"
TOPIC = "inventory-events"
SUBJECT = f"{TOPIC}-value"
CTX = SerializationContext(TOPIC, MessageField.VALUE)

INVENTORY_V1 = {
    "type": "record", "name": "Inventory", "namespace": "shop",
    "fields": [{"name": "sku", "type": "string"}, {"name": "count", "type": "int"}],
}


def inventory_v2(mark):
    schema = json.loads(json.dumps(INVENTORY_V1))
    schema["fields"].append({"name": "branch", "type": "string", "default": mark})
    return schema


def registry():
    return SchemaRegistryClient({"url": REGISTRY})


def produce(schema, record):
    serializer = AvroSerializer(registry(), json.dumps(schema))
    p = Producer({"bootstrap.servers": BOOTSTRAP, "acks": "all"})
    errors = []
    p.produce(TOPIC, key=record["sku"], value=serializer(record, CTX),
              on_delivery=lambda e, m: e and errors.append(str(e)))
    assert p.flush(20) == 0 and not errors, errors


def consume(want):
    deserializer = AvroDeserializer(registry())
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": f"read-{time.time()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([TOPIC])
    got, deadline, quiet_until = [], time.time() + 30, None
    while time.time() < deadline:
        m = c.poll(0.3)
        if m is None or m.error():
            if len(got) >= want and quiet_until is None:
                quiet_until = time.time() + 2
            if quiet_until is not None and time.time() > quiet_until:
                break
            continue
        got.append(deserializer(m.value(), CTX))
    c.close()
    return sorted(got, key=lambda r: (r["sku"], json.dumps(r, sort_keys=True)))


def main():
    phase = sys.argv[1]
    if phase == "seed":
        produce(INVENTORY_V1, {"sku": "sku-1", "count": 5})
        sr = registry()
        latest = sr.get_latest_version(SUBJECT)
        assert (latest.version, latest.schema_id) == (1, 1), latest
        assert consume(1) == [{"sku": "sku-1", "count": 5}]
        print("seeded: inventory-events-value v1 (id 1) and one Avro record")
        return
    if phase == "state":
        sr = registry()
        latest = json.loads(sr.get_latest_version(SUBJECT).schema.schema_str)
        mark = next((f["default"] for f in latest["fields"] if f["name"] == "branch"), "-")
        subjects = ",".join(f"{s}:{sr.get_versions(s)}" for s in sorted(sr.get_subjects()))
        print(f"{subjects} mark={mark}")
        return
    mark = os.environ["MARK"]
    sr = registry()
    assert sr.get_versions(SUBJECT) == [1], sr.get_versions(SUBJECT)
    assert consume(1) == [{"sku": "sku-1", "count": 5}]
    produce(inventory_v2(mark), {"sku": f"sku-{mark}", "count": 1, "branch": mark})
    latest = registry().get_latest_version(SUBJECT)
    assert (latest.version, latest.schema_id) == (2, 2), latest
    time.sleep(1)
    # The checkpoint's record and this branch's own; read with v2 through the registry.
    records = consume(2)
    assert records == [{"sku": "sku-1", "count": 5},
                       {"sku": f"sku-{mark}", "count": 1, "branch": mark}], records
    assert registry().get_subjects() == [SUBJECT]
    assert registry().get_versions(SUBJECT) == [1, 2]
    print(f"branch {mark}: the checkpoint's schema and record, its own version 2 only")


main()
