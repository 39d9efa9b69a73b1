// Runs every data quality check; exits 1 on any problem.
import { connectSearch } from '../etl/load/src/clients.js';
import { databases, countProblems, integrityProblems, duplicateProblems, aggregationProblems } from './quality.js';

const { source, warehouse } = databases();
const search = await connectSearch();
const ctx = { source, warehouse, search };
let failed = 0;
try {
  for (const [name, check] of [['row counts', countProblems], ['integrity', integrityProblems], ['duplicates', duplicateProblems], ['aggregations', aggregationProblems]]) {
    const { problems } = await check(ctx);
    console.log(`${name}: ${problems.length ? problems.length + ' problem(s)' : 'ok'}`);
    for (const p of problems.slice(0, 10)) console.log(`  - ${p}`);
    failed += problems.length;
  }
  const { counts } = await countProblems(ctx);
  console.log(`warehouse: ${JSON.stringify(counts.warehouse)}; index (elasticsearch ${search.version}): ${JSON.stringify(counts.search)}`);
} finally {
  await source.end();
  await warehouse.end();
  await search.close();
}
process.exit(failed ? 1 : 0);
