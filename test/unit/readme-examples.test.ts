import { readFileSync } from 'node:fs';
import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';

// schema.graphql is kept equal to the code-built schema by schema-printed.test.ts, so validating the README's
// operations against it keeps the documentation honest.
const schema = buildSchema(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'));
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const blocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('README example operations', () => {
  it('has example operations', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  it.each(
    blocks.flatMap((block) => block.split(/\n(?=# )/).filter((op) => /\b(query|mutation|subscription)\b/.test(op))),
  )('validates against schema.graphql: %s', (operation) => {
    expect(validate(schema, parse(operation)).map((e) => e.message)).toEqual([]);
  });
});
