"""A Kafka client on the host: produces three messages to order-events at the bootstrap
server given, and reads them back in a consumer group. Prints what it read."""
import sys
from confluent_kafka import Producer, Consumer
bs = sys.argv[1]
p = Producer({'bootstrap.servers': bs, 'message.timeout.ms': 10000})
for i in range(3):
    p.produce('order-events', key=str(i), value=f'order-{i}')
left = p.flush(15)
assert left == 0, f"{left} messages not delivered"
c = Consumer({'bootstrap.servers': bs, 'group.id': 'host-client', 'auto.offset.reset': 'earliest', 'session.timeout.ms': 6000})
c.subscribe(['order-events'])
got = []
import time
end = time.time() + 30
while len(got) < 3 and time.time() < end:
    m = c.poll(1.0)
    if m is not None and m.error() is None:
        got.append(m.value().decode())
c.close()
print(sorted(got))
