// Reads the app's settings from the environment. Inside a vers environment the defaults
// name the services of vers-integration.yaml; the overrides let the same code run against
// servers started by hand on loopback.

function env(name, fallback) {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

/** Builds the configuration object from `process.env` (call again after changing env). */
export function loadConfig() {
  const databaseUrl = env('DATABASE_URL', 'postgres://postgres@postgres/app');
  return {
    host: env('HOST', '0.0.0.0'),
    port: Number(env('PORT', '3000')),
    publicUrl: env('APP_PUBLIC_URL', 'http://localhost:3000'),
    databaseUrl,
    analyticsDatabaseUrl: env('ANALYTICS_DATABASE_URL', databaseUrl.replace(/\/[^/?]*(\?.*)?$/, '/analytics$1')),
    redisUrl: env('REDIS_URL', 'redis://redis:6379'),
    stripe: {
      secretKey: env('STRIPE_SECRET_KEY', 'sk_test_mock'),
      webhookSecret: env('STRIPE_WEBHOOK_SECRET', 'whsec_test'),
      host: env('STRIPE_API_HOST', 'stripe'),
      port: Number(env('STRIPE_API_PORT', '12111')),
      protocol: env('STRIPE_API_PROTOCOL', 'http'),
    },
    oauth: {
      issuerBase: env('OAUTH_ISSUER_BASE', 'http://oauth:8080').replace(/\/+$/, ''),
      clientId: env('OAUTH_CLIENT_ID', 'test-client-id'),
      clientSecret: env('OAUTH_CLIENT_SECRET', 'test-client-secret'),
      redirectUri: env('OAUTH_REDIRECT_URI', 'http://localhost:3000/auth/callback'),
    },
    smtp: {
      host: env('SMTP_HOST', 'smtp'),
      port: Number(env('SMTP_PORT', '1025')),
      apiUrl: env('MAILHOG_API_URL', `http://${env('SMTP_HOST', 'smtp')}:8025`),
      from: env('MAIL_FROM', 'SaaS Starter <hello@saas-starter.test>'),
    },
    sessionTtlSeconds: Number(env('SESSION_TTL_SECONDS', '86400')),
  };
}
