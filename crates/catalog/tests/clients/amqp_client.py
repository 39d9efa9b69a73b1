"""Talks AMQP 0-9-1 to a RabbitMQ broker with pika, for the catalog and CLI tests.

Usage: amqp_client.py URL ACTION...
  publish EXCHANGE ROUTING_KEY BODY   publish a persistent message (with publisher confirms)
  get QUEUE                           take one message (its body, or null when empty)
  count QUEUE                         the number of ready messages (the queue must exist)
Actions are separated by `--`. Prints a JSON list with one result per action.
"""

import json
import sys

import pika


def main():
    url = sys.argv[1]
    actions, current = [], []
    for word in sys.argv[2:]:
        if word == "--":
            actions.append(current)
            current = []
        else:
            current.append(word)
    if current:
        actions.append(current)
    params = pika.URLParameters(url)
    params.socket_timeout = 10
    params.blocked_connection_timeout = 10
    conn = pika.BlockingConnection(params)
    channel = conn.channel()
    channel.confirm_delivery()
    out = []
    for action in actions:
        verb = action[0]
        if verb == "publish":
            exchange, key, body = action[1:4]
            channel.basic_publish(
                exchange=exchange,
                routing_key=key,
                body=body.encode(),
                properties=pika.BasicProperties(delivery_mode=2),
                mandatory=True,
            )
            out.append("published")
        elif verb == "get":
            method, _props, body = channel.basic_get(queue=action[1], auto_ack=True)
            out.append(body.decode() if method else None)
        elif verb == "count":
            frame = channel.queue_declare(queue=action[1], passive=True)
            out.append(frame.method.message_count)
        else:
            raise SystemExit(f"unknown action {verb}")
    conn.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
