// The app's settings, read from the environment. Inside a vers environment the defaults name
// the services of vers-integration.yaml (`postgres`, `redis`, `elasticsearch`, `stripe`, `s3`,
// `smtp`); the variables let the same code run against servers started by hand.

function env(name, fallback) {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

/** Replaces the database name of a postgres URL. */
export function withDatabase(url, database) {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Builds the configuration object from `process.env` (call again after changing env). */
export function loadConfig() {
  const postgres = env('DATABASE_URL', 'postgres://postgres@postgres/ecommerce');
  const smtpHost = env('SMTP_HOST', 'smtp');
  return {
    host: env('HOST', '0.0.0.0'),
    port: Number(env('PORT', '3000')),
    publicUrl: env('APP_PUBLIC_URL', 'http://app:3000'),
    databases: {
      ecommerce: postgres,
      inventory: env('INVENTORY_DATABASE_URL', withDatabase(postgres, 'inventory')),
      analytics: env('ANALYTICS_DATABASE_URL', withDatabase(postgres, 'analytics')),
    },
    redisUrl: env('REDIS_URL', 'redis://redis:6379'),
    cartTtlSeconds: Number(env('CART_TTL_SECONDS', String(7 * 24 * 3600))),
    elasticsearchUrl: env('ELASTICSEARCH_URL', 'http://elasticsearch:9200'),
    productsIndex: env('PRODUCTS_INDEX', 'products'),
    stripe: {
      secretKey: env('STRIPE_SECRET_KEY', 'sk_test_mock'),
      host: env('STRIPE_API_HOST', 'stripe'),
      port: Number(env('STRIPE_API_PORT', '12111')),
      protocol: env('STRIPE_API_PROTOCOL', 'http'),
    },
    s3: {
      endpoint: env('AWS_ENDPOINT_URL', 'http://s3:4566'),
      region: env('AWS_REGION', env('AWS_DEFAULT_REGION', 'us-east-1')),
      accessKeyId: env('AWS_ACCESS_KEY_ID', 'test'),
      secretAccessKey: env('AWS_SECRET_ACCESS_KEY', 'test'),
      imagesBucket: env('IMAGES_BUCKET', 'product-images'),
      invoicesBucket: env('INVOICES_BUCKET', 'order-invoices'),
    },
    smtp: {
      host: smtpHost,
      port: Number(env('SMTP_PORT', '1025')),
      apiUrl: env('MAILHOG_API_URL', `http://${smtpHost}:8025`),
      from: env('MAIL_FROM', 'Trailhead Outfitters <orders@trailhead.test>'),
    },
  };
}
