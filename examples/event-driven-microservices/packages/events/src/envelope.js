// The envelope every event travels in: `{ id, type, source, time, data }` as JSON, keyed by the
// aggregate it is about (an order, a user, a SKU) so that one aggregate's events keep their
// order within a partition.
import { randomUUID } from 'node:crypto';

import { EVENT_TYPES } from './topics.js';

/** A message that cannot be an event: dead-lettered, never retried. */
export class InvalidEvent extends Error {
  constructor(message) {
    super(message);
    this.name = 'InvalidEvent';
    this.permanent = true;
  }
}

/** A new event of `type` from `source` carrying `data`. */
export function makeEvent(type, source, data) {
  if (typeof type !== 'string' || !type) throw new TypeError('an event needs a type');
  if (typeof source !== 'string' || !source) throw new TypeError('an event needs a source');
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new TypeError(`event ${type}: data must be an object`);
  }
  return { id: randomUUID(), type, source, time: new Date().toISOString(), data };
}

/** The Kafka message (key, JSON value, `event-type` header) for `event` keyed by `key`. */
export function toMessage(event, key) {
  return {
    key: String(key),
    value: JSON.stringify(event),
    headers: { 'event-type': event.type, 'event-id': event.id },
  };
}

/**
 * The event in a Kafka message value, checked: JSON, the envelope's fields, and a type the
 * topic carries. Throws InvalidEvent otherwise.
 */
export function parseEvent(value, topic) {
  let event;
  try {
    event = JSON.parse(Buffer.isBuffer(value) ? value.toString('utf8') : String(value));
  } catch (err) {
    throw new InvalidEvent(`not JSON: ${err.message}`);
  }
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new InvalidEvent('not an event envelope');
  }
  for (const field of ['id', 'type', 'source', 'time']) {
    if (typeof event[field] !== 'string' || !event[field]) {
      throw new InvalidEvent(`the envelope has no ${field}`);
    }
  }
  if (event.data === null || typeof event.data !== 'object') {
    throw new InvalidEvent('the envelope has no data');
  }
  const allowed = EVENT_TYPES[topic];
  if (topic && allowed && !allowed.includes(event.type)) {
    throw new InvalidEvent(`${event.type} does not belong on ${topic}`);
  }
  return event;
}

/** The `DeadLettered` event recording why `message` of `topic` could not be handled. */
export function deadLetterEvent(consumer, { topic, partition, message }, error) {
  return makeEvent('DeadLettered', consumer, {
    topic,
    partition,
    offset: message.offset,
    key: message.key ? message.key.toString('utf8') : null,
    value: message.value ? message.value.toString('utf8') : null,
    error: error.message,
  });
}
