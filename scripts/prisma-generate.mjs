#!/usr/bin/env node
// Generates both Prisma clients (SQLite and PostgreSQL) from prisma/schema.prisma with no network.
//
// `prisma generate` does not use the schema engine, but the CLI tries to download it unless
// PRISMA_SCHEMA_ENGINE_BINARY names an existing executable. When no engine is installed we point that variable
// at a stub (`true`), so `npm install` works offline. Output goes to src/generated/prisma/<provider> (gitignored).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'prisma', 'schema.prisma');
const prismaCli = join(root, 'node_modules', 'prisma', 'build', 'index.js');

function findEngineStub() {
  if (process.env.PRISMA_SCHEMA_ENGINE_BINARY && existsSync(process.env.PRISMA_SCHEMA_ENGINE_BINARY)) {
    return process.env.PRISMA_SCHEMA_ENGINE_BINARY;
  }
  for (const candidate of ['/usr/bin/true', '/bin/true']) if (existsSync(candidate)) return candidate;
  const stub = join(root, 'node_modules', '.cache', 'tickgraph', 'schema-engine-stub');
  mkdirSync(dirname(stub), { recursive: true });
  writeFileSync(stub, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  return stub;
}

/** The PostgreSQL variant of the schema: same models, other provider, other output folder. */
function postgresVariant(schema) {
  const output = join(root, 'src', 'generated', 'prisma', 'postgresql').replaceAll('\\', '/');
  return schema
    .replace(/provider\s*=\s*"sqlite"/, 'provider = "postgresql"')
    .replace(/output\s*=\s*"[^"]*"/, `output = "${output}"`);
}

const env = { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: findEngineStub(), PRISMA_HIDE_UPDATE_MESSAGE: '1' };
const pgDir = join(root, 'node_modules', '.cache', 'tickgraph', 'prisma-postgresql');
mkdirSync(pgDir, { recursive: true });
const pgSchema = join(pgDir, 'schema.prisma');
writeFileSync(pgSchema, postgresVariant(readFileSync(source, 'utf8')));

for (const schema of [source, pgSchema]) {
  execFileSync(process.execPath, [prismaCli, 'generate', '--schema', schema], { cwd: root, env, stdio: 'inherit' });
}
