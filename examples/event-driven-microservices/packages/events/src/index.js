// What the four services share.
export { TOPICS, EVENT_TYPES } from './topics.js';
export { makeEvent, toMessage, parseEvent, deadLetterEvent, InvalidEvent } from './envelope.js';
export { brokersFromEnv, createKafka, connectProducer, startConsumer } from './kafka.js';
export { OUTBOX_DDL, enqueue, startRelay, pendingCount } from './outbox.js';
export { HttpError, createServer, listen, onShutdown } from './http.js';
export { retryUntil, sleep } from './retry.js';
