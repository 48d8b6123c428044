/**
 * Writes schema.graphql from the code-built schema, types and fields sorted, so diffs show real changes.
 * `npm run schema:print`; test/unit/schema-printed.test.ts fails when the committed file is stale.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { buildSchema } from '../src/graphql/schema/index.js';

// graphql 16 ships CJS (`main`) and ESM (`module`) builds. Node (and Pothos) load the CJS one, but vitest
// resolves `module` for our own files, and graphql's instanceof checks refuse types from the other copy.
// Loading graphql through require() gets the copy Pothos built the schema with, in both environments.
const { lexicographicSortSchema, printSchema } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

export const SCHEMA_FILE = fileURLToPath(new URL('../schema.graphql', import.meta.url));

export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(buildSchema()))}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(SCHEMA_FILE, printedSchema());
  console.log(`wrote ${SCHEMA_FILE}`);
}
