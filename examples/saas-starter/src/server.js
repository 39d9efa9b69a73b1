// Entry point (`npm start`): connects to PostgreSQL, Redis, Stripe and SMTP from the
// environment and serves the app on HOST:PORT until SIGTERM/SIGINT.
import { createApp } from './app.js';
import { createStripe } from './billing.js';
import { loadConfig } from './config.js';
import { createPool } from './db.js';
import { createMailer } from './mailer.js';
import { connectRedis } from './sessions.js';

async function main() {
  const config = loadConfig();
  const db = createPool(config.databaseUrl);
  const redis = await connectRedis(config.redisUrl);
  const stripe = createStripe(config);
  const mailer = createMailer(config);
  const server = createApp({ config, db, redis, stripe, mailer });
  server.listen(config.port, config.host, () => {
    console.log(`saas-starter listening on http://${config.host}:${config.port}`);
  });
  const stop = (signal) => {
    console.log(`saas-starter: ${signal}, shutting down`);
    server.close();
    server.closeAllConnections();
    Promise.allSettled([db.end(), redis.quit()]).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  console.error(`saas-starter failed to start: ${err.stack ?? err}`);
  process.exit(1);
});
