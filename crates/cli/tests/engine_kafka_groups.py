"""A consumer group across a checkpoint. `ghost`: a consumer of group `workers` reads what
is on `jobs`, commits, and exits without leaving the group (as a killed worker does), so the
checkpoint holds the group with that member. `rejoin` (in a branch): a new consumer of the
same group must get the partitions and read a message produced now; prints `rejoined N`."""
import os
import sys
import time

from confluent_kafka import Consumer, Producer

BROKERS = os.environ.get("KAFKA_BROKERS", "kafka:9092")


def produce(values):
    p = Producer({"bootstrap.servers": BROKERS})
    for v in values:
        p.produce("jobs", value=v)
    assert p.flush(15) == 0


def consumer(session_ms):
    return Consumer({
        "bootstrap.servers": BROKERS,
        "group.id": "workers",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": session_ms,
    })


def read(c, wanted, seconds):
    got = []
    end = time.time() + seconds
    while len(got) < wanted and time.time() < end:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.append(m.value().decode())
            c.commit(message=m, asynchronous=False)
    return got


if sys.argv[1] == "ghost":
    produce(["a", "b"])
    # A session longer than the branch's whole test: the member is not timed out meanwhile.
    c = consumer(60000)
    c.subscribe(["jobs"])
    got = read(c, 2, 30)
    assert sorted(got) == ["a", "b"], got
    sys.stdout.flush()
    os._exit(0)
else:
    produce(["c"])
    c = consumer(6000)
    c.subscribe(["jobs"])
    got = read(c, 1, 25)
    c.close()
    print("rejoined", " ".join(got))
    sys.exit(0 if got == ["c"] else 1)
