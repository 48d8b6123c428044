// Runs before every test file. Tests that need PostgreSQL or Redis read TEST_DATABASE_URL / TEST_REDIS_URL
// (test/support/services.ts) and say clearly what they skipped when those are not set.
process.env.TZ = 'UTC';
