"""A Kafka client run inside a vers environment by tests/engine_kafka.rs: it reaches the
broker by its service name, as the seed's services do (KAFKA_BROKERS: kafka:9092).

seed:   produce m0..m9 to user-events; group g1 reads and commits four of them.
branch: checks the checkpoint (ten messages, g1 at four), writes MARK's own messages to
        order-events and moves g1 on, then checks it sees only its own writes.
state:  prints g1's committed offsets and the number of messages in both topics.
"""

import os
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

BOOTSTRAP = os.environ.get("KAFKA_BROKERS", "kafka:9092")


def produce(topic, values):
    p = Producer({"bootstrap.servers": BOOTSTRAP, "acks": "all"})
    errors = []
    for v in values:
        p.produce(topic, key=v, value=v, on_delivery=lambda e, m: e and errors.append(str(e)))
    assert p.flush(20) == 0 and not errors, errors


def consume(topic, group, want, commit=False, settle=2.0):
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    got, deadline, quiet_until = [], time.time() + 30, None
    while time.time() < deadline:
        m = c.poll(0.3)
        if m is None or m.error():
            if len(got) >= want and quiet_until is None:
                quiet_until = time.time() + settle
            if quiet_until is not None and time.time() > quiet_until:
                break
            continue
        got.append(m.value().decode())
        if commit and len(got) <= want:
            c.commit(message=m, asynchronous=False)
    c.close()
    return sorted(got)


def committed(topic, group, partitions):
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group})
    offsets = c.committed([TopicPartition(topic, i) for i in range(partitions)], timeout=10)
    c.close()
    return sum(max(tp.offset, 0) for tp in offsets)


def main():
    topics = AdminClient({"bootstrap.servers": BOOTSTRAP}).list_topics(timeout=10).topics
    assert len(topics["user-events"].partitions) == 6, topics
    assert len(topics["order-events"].partitions) == 6, topics
    if sys.argv[1] == "state":
        users = consume("user-events", f"state-{time.time()}", 1)
        orders = consume("order-events", f"state-{time.time()}", 0, settle=3.0)
        print(f"g1={committed('user-events', 'g1', 6)} users={len(users)} orders={len(orders)}")
        return
    if sys.argv[1] == "seed":
        produce("user-events", [f"m{i}" for i in range(10)])
        first = consume("user-events", "g1", 4, commit=True, settle=0.5)
        assert committed("user-events", "g1", 6) == 4
        print(f"seeded: 10 messages, g1 committed 4 (read {len(first)})")
        return
    mark = os.environ["MARK"]
    seen = consume("user-events", f"check-{mark}", 10)
    assert seen == sorted(f"m{i}" for i in range(10)), seen
    at = committed("user-events", "g1", 6)
    assert at == 4, f"g1 committed {at}, want the checkpoint's 4"
    produce("order-events", [f"{mark}-{i}" for i in range(3)])
    rest = consume("user-events", "g1", 6, commit=True)
    assert len(rest) == 6, rest
    time.sleep(1)
    orders = consume("order-events", f"orders-{mark}", 3)
    assert orders == [f"{mark}-{i}" for i in range(3)], orders
    assert committed("user-events", "g1", 6) == 10
    print(f"branch {mark}: checkpoint intact, own writes only")


main()
