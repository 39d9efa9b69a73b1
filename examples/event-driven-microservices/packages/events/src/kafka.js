// Kafka clients (kafkajs): a producer that publishes events, and a consumer group runner that
// hands each event to a handler, retries what fails for a transient reason (the message
// stays uncommitted, so it is read again) and sends what can never succeed to the
// `dead-letter` topic.
import { AssignerProtocol, Kafka, Partitioners, logLevel } from 'kafkajs';

import { deadLetterEvent, parseEvent, toMessage } from './envelope.js';
import { TOPICS } from './topics.js';

/** The broker list of `KAFKA_BROKERS` (comma-separated), `kafka:9092` by default. */
export function brokersFromEnv(env = process.env) {
  return (env.KAFKA_BROKERS ?? 'kafka:9092')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
}

/** A kafkajs client named `clientId`. */
export function createKafka(clientId, brokers = brokersFromEnv()) {
  return new Kafka({
    clientId,
    brokers,
    connectionTimeout: 3000,
    requestTimeout: 10000,
    retry: { initialRetryTime: 200, maxRetryTime: 3000, retries: 8 },
    logLevel: logLevel.WARN,
  });
}

/** A connected producer and `publish(topic, event, key)`, acknowledged by the broker. */
export async function connectProducer(kafka) {
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  return {
    producer,
    async publish(topic, event, key) {
      await producer.send({ topic, acks: -1, messages: [toMessage(event, key)] });
    },
    async publishAll(records) {
      const byTopic = new Map();
      for (const { topic, event, key } of records) {
        if (!byTopic.has(topic)) byTopic.set(topic, []);
        byTopic.get(topic).push(toMessage(event, key));
      }
      await producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    },
    disconnect: () => producer.disconnect(),
  };
}

/** How many empty assignments in a row a member answers by joining again. */
const MAX_EMPTY_JOINS = 5;

/**
 * Kafka's round-robin assignment, remembering the plan it computed (only the group's leader
 * computes one) so that the leader can check that the coordinator handed it out.
 */
function recordingRoundRobin(plans) {
  const { MemberAssignment, MemberMetadata } = AssignerProtocol;
  return ({ cluster }) => ({
    name: 'RoundRobinAssigner',
    version: 0,
    async assign({ members, topics }) {
      const ids = members.map((m) => m.memberId).sort();
      const plan = Object.fromEntries(ids.map((id) => [id, {}]));
      const partitions = topics.flatMap((topic) =>
        cluster.findTopicPartitionMetadata(topic).map((m) => ({ topic, partition: m.partitionId })),
      );
      partitions.forEach(({ topic, partition }, i) => {
        const id = ids[i % ids.length];
        (plan[id][topic] ??= []).push(partition);
      });
      plans.last = plan;
      return ids.map((memberId) => ({
        memberId,
        memberAssignment: MemberAssignment.encode({ version: 0, assignment: plan[memberId] }),
      }));
    },
    protocol({ topics }) {
      return { name: 'RoundRobinAssigner', metadata: MemberMetadata.encode({ version: 0, topics }) };
    },
  });
}

/** `{topic: [partitions]}` in a canonical form, for comparison. */
function canonical(assignment) {
  return JSON.stringify(
    Object.entries(assignment ?? {})
      .filter(([, partitions]) => partitions.length > 0)
      .map(([topic, partitions]) => [topic, [...partitions].sort((a, b) => a - b)])
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

/**
 * Runs consumer group `groupId` on `topics`: each valid event goes to `handle(event, meta)`.
 * A message that is not a valid event, or whose handler throws an error marked `permanent`,
 * is published to the dead-letter topic and skipped; any other error is retried by kafkajs
 * (and after a crash the group is joined again), so the message is never lost.
 * Returns `{ state, stop }`; `state.joined` says whether the group has its partitions.
 */
export async function startConsumer({ kafka, groupId, topics, handle, publisher, log = console }) {
  const state = { joined: false, handled: 0, deadLettered: 0, lastError: null, restarts: 0, rejoins: 0 };
  let consumer;
  let stopped = false;

  const deadLetter = async (ctx, err) => {
    const event = deadLetterEvent(groupId, ctx, err);
    await publisher.publish(TOPICS.deadLetter, event, ctx.message.key?.toString('utf8') ?? event.id);
    state.deadLettered += 1;
    log.warn?.(`${groupId}: dead-lettered ${ctx.topic}/${ctx.partition}@${ctx.message.offset}: ${err.message}`);
  };

  let restarting = false;
  let emptyJoins = 0;
  const scheduleRestart = (delayMs = 1000) => {
    if (restarting) return;
    restarting = true;
    setTimeout(async () => {
      if (stopped) return;
      await consumer.disconnect().catch(() => {});
      restarting = false;
      try {
        await run();
      } catch (err) {
        log.error?.(`${groupId}: restart failed: ${err.message}`);
        scheduleRestart();
      }
    }, delayMs);
  };

  const plans = { last: null };
  const run = async () => {
    consumer = kafka.consumer({
      groupId,
      partitionAssigners: [recordingRoundRobin(plans)],
      sessionTimeout: 10000,
      rebalanceTimeout: 15000,
      heartbeatInterval: 1000,
      maxWaitTimeInMs: 250,
      retry: { initialRetryTime: 300, maxRetryTime: 3000, retries: 5 },
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const planned = payload.isLeader && plans.last ? plans.last[payload.memberId] ?? {} : null;
      plans.last = null;
      log.info?.(
        `${groupId}: joined as ${payload.memberId}${payload.isLeader ? ' (leader)' : ''}, partitions ${JSON.stringify(payload.memberAssignment)}`,
      );
      // A coordinator that loses track of a member that died (tansu, the stand-in vers runs
      // when there is no Apache Kafka, after a SIGKILL) can hand out an assignment that is not
      // the leader's: an older one, or nothing at all, leaving partitions unread. Leaving the
      // group and joining again forces a new generation and a fresh assignment. Every group
      // here has at least as many partitions as members, so an empty assignment is wrong too;
      // it is retried a few times only, in case that ever stops being true.
      const stale = planned && canonical(planned) !== canonical(payload.memberAssignment);
      const empty = canonical(payload.memberAssignment) === '[]';
      if (stale || (empty && emptyJoins < MAX_EMPTY_JOINS)) {
        if (empty) emptyJoins += 1;
        log.warn?.(
          `${groupId}: assigned ${JSON.stringify(payload.memberAssignment)}${stale ? ` instead of ${JSON.stringify(planned)}` : ''}; rejoining`,
        );
        state.joined = false;
        state.rejoins += 1;
        scheduleRestart(500 + Math.random() * 1500);
        return;
      }
      if (!empty) emptyJoins = 0;
      state.joined = true;
      state.assignment = payload.memberAssignment;
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      state.joined = false;
      state.lastError = payload.error?.message ?? String(payload.error);
      log.error?.(`${groupId}: consumer crashed (${state.lastError}); restart: ${payload.restart}`);
      if (!payload.restart && !stopped) {
        // kafkajs gives up on this one: start a new consumer after a pause.
        state.restarts += 1;
        scheduleRestart();
      }
    });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      eachMessage: async (ctx) => {
        let event;
        try {
          event = parseEvent(ctx.message.value, ctx.topic);
        } catch (err) {
          await deadLetter(ctx, err);
          return;
        }
        try {
          await handle(event, ctx);
          state.handled += 1;
        } catch (err) {
          if (err.permanent) {
            await deadLetter(ctx, err);
            return;
          }
          state.lastError = err.message;
          throw err;
        }
      },
    });
  };

  await run();
  return {
    state,
    async stop() {
      stopped = true;
      await consumer.disconnect();
    },
  };
}
