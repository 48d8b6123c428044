import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { printedSchema, SCHEMA_FILE } from '../../scripts/print-schema.js';

describe('schema.graphql', () => {
  it('matches the schema the code builds', () => {
    const committed = readFileSync(SCHEMA_FILE, 'utf8');
    if (committed !== printedSchema()) {
      expect.fail('schema.graphql is out of date with src/graphql: run `npm run schema:print` and commit the result');
    }
  });
});
