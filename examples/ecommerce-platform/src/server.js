// Entry point (`npm start`): connects to every service and serves the API on HOST:PORT until
// SIGTERM/SIGINT.
import { createApp } from './app.js';
import { createContext } from './context.js';

const ctx = createContext();
const server = createApp(ctx);
server.listen(ctx.config.port, ctx.config.host, () => {
  console.log(`ecommerce-platform listening on http://${ctx.config.host}:${ctx.config.port}`);
});
const stop = (signal) => {
  console.log(`ecommerce-platform: ${signal}, shutting down`);
  server.close();
  server.closeAllConnections();
  ctx.close().then(() => process.exit(0));
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
