import { readFileSync } from 'node:fs';
import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { GRAPHIQL_TABS } from '../../src/server/graphiql.js';

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

describe('GraphiQL example tabs', () => {
  it.each(GRAPHIQL_TABS.map((tab) => tab.query))(
    'validate against schema.graphql and need no variables: %s',
    (query) => {
      const document = parse(query);
      expect(validate(schema, document).map((e) => e.message)).toEqual([]);
      for (const definition of document.definitions) {
        expect('variableDefinitions' in definition ? (definition.variableDefinitions ?? []) : []).toEqual([]);
      }
    },
  );
});
