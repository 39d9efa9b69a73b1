// Runs one ETL run (`node scripts/run-etl.js full|incremental|cdc`) and prints its figures.
import { runEtl } from '../lib/driver.js';

const mode = process.argv[2] ?? 'full';
const r = await runEtl(mode);
console.log(`etl ${r.mode} run ${r.run}: ${r.customers.length} customers, ${r.products.length} products, ` +
  `${r.deleted_customers.length} deleted customers; loaded ${r.state.loaded ?? 0}, failed ${r.state.failed ?? 0} ` +
  `of ${r.state.expected} in ${r.ms} ms (${r.state.status})`);
if (r.state.status !== 'done') process.exit(1);
