import json, sys, time
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

bootstrap, action = sys.argv[1], sys.argv[2]
out = {}
if action == "topics":
    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
    out = {name: len(t.partitions) for name, t in md.topics.items()}
elif action == "produce":
    topic, start, count = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    errors = []
    for i in range(start, start + count):
        p.produce(topic, key=f"k{i}", value=f"m{i}", on_delivery=lambda e, m: errors.append(str(e)) if e else None)
    left = p.flush(15)
    out = {"unflushed": left, "errors": errors}
elif action == "consume":
    topic, group, want, commit = sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6] == "commit"
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    got = []
    deadline = time.time() + 30
    while len(got) < want and time.time() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        got.append(m.value().decode())
        if commit:
            c.commit(message=m, asynchronous=False)
    # Drain: anything more within a short while shows messages that should not be there.
    end = time.time() + 3
    while time.time() < end:
        m = c.poll(0.3)
        if m is not None and not m.error():
            got.append(m.value().decode())
    c.close()
    out = {"values": sorted(got)}
elif action == "committed":
    topic, group, n = sys.argv[3], sys.argv[4], int(sys.argv[5])
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    parts = c.committed([TopicPartition(topic, i) for i in range(n)], timeout=10)
    out = {"offsets": [tp.offset for tp in parts]}
    c.close()
print(json.dumps(out))
