"""Talks to a NATS server with nats-py, for the catalog and CLI tests.

Usage: nats_client.py URL write|read [STREAM].
  write: a core request/reply round trip, then a JetStream stream (subjects STREAM.*) with
         three messages; prints {"core", "max_payload", "messages"}.
  read:  prints {"messages", "first"} of the stream.
"""

import asyncio
import json
import sys

import nats


async def main():
    url, mode = sys.argv[1], sys.argv[2]
    stream = sys.argv[3] if len(sys.argv) > 3 else "ORDERS"
    nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0)
    js = nc.jetstream()
    out = {}
    if mode == "write":
        sub = await nc.subscribe("ping")
        await nc.publish("ping", b"pong")
        msg = await sub.next_msg(timeout=5)
        out["core"] = msg.data.decode()
        out["max_payload"] = nc.max_payload
        await js.add_stream(name=stream, subjects=[stream.lower() + ".*"])
        for i in range(3):
            await js.publish(stream.lower() + ".new", f"order-{i}".encode())
    info = await js.stream_info(stream)
    out["messages"] = info.state.messages
    if mode == "read":
        first = await js.get_msg(stream, 1)
        out["first"] = first.data.decode()
    await nc.close()
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
