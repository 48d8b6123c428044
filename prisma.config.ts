import { defineConfig } from 'prisma/config';

// Used by the Prisma CLI only (generate; migrate status on a networked machine). The server itself reads
// DATABASE_URL through src/config.ts and applies prisma/migrations/<provider> at start-up (src/store/migrate.ts).
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations/sqlite' },
  datasource: { url: process.env.DATABASE_URL ?? 'file:./data/tickgraph.db' },
});
