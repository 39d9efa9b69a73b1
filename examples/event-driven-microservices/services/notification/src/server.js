// notification-service: consumes notification-events and user-events and sends each mail over
// SMTP (MailHog inside vers) with nodemailer. A mail's Message-ID is derived from its event,
// so a redelivered event is recognisable; events seen by this process are not mailed twice.
import { TOPICS, connectProducer, createKafka, createServer, listen, onShutdown, retryUntil, startConsumer } from '@edm/events';
import nodemailer from 'nodemailer';

import { mailFor, render } from './templates.js';

const SERVICE = 'notification-service';
const FROM = process.env.MAIL_FROM ?? 'Event Shop <no-reply@example.com>';
const RECENT = 2000;

const transport = nodemailer.createTransport({
  host: process.env.SMTP_HOST ?? 'smtp',
  port: Number(process.env.SMTP_PORT ?? 1025),
  secure: false,
  ignoreTLS: true,
  connectionTimeout: 5000,
});

const kafka = createKafka(SERVICE);
const publisher = await retryUntil('kafka producer', () => connectProducer(kafka));
const seen = new Set();
const stats = { sent: 0, duplicates: 0, lastError: null };

async function onEvent(event) {
  const mail = mailFor(event);
  if (!mail) return;
  if (seen.has(event.id)) {
    stats.duplicates += 1;
    return;
  }
  const { subject, text, html } = render(mail.template, mail.data);
  try {
    await transport.sendMail({
      from: FROM,
      to: mail.to,
      subject,
      text,
      html,
      messageId: `<${event.id}@${SERVICE}>`,
      headers: { 'X-Event-Type': event.type, 'X-Event-Id': event.id, 'X-Template': mail.template },
    });
  } catch (err) {
    stats.lastError = err.message;
    throw err; // SMTP down: not committed, retried
  }
  stats.sent += 1;
  seen.add(event.id);
  if (seen.size > RECENT) seen.delete(seen.values().next().value);
}

const consumer = await retryUntil('kafka consumer', () =>
  startConsumer({ kafka, groupId: SERVICE, topics: [TOPICS.notifications, TOPICS.users], handle: onEvent, publisher }),
);

const server = createServer([
  [
    'GET',
    '/health',
    async () => {
      const smtp = await transport.verify().then(() => 'ok', (e) => e.message);
      const consumerCheck = consumer.state.joined ? 'ok' : (consumer.state.lastError ?? 'joining');
      const ok = smtp === 'ok' && consumerCheck === 'ok';
      return {
        status: ok ? 200 : 503,
        body: { service: SERVICE, status: ok ? 'ok' : 'degraded', checks: { smtp, consumer: consumerCheck }, ...stats, deadLettered: consumer.state.deadLettered },
      };
    },
  ],
]);

const { host, port } = await listen(server);
console.log(`${SERVICE} listening on ${host}:${port}`);
onShutdown(async () => {
  server.close();
  await consumer.stop().catch(() => {});
  await publisher.disconnect().catch(() => {});
  transport.close();
});
