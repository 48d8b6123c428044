/**
 * Optional real services for tests. `.ci/run` sets both, so in CI these tests always run; elsewhere they are
 * skipped with a message that names the variable to set.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? '';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? '';

const announced = new Set<string>();
/** Prints once per process which group is skipped and why. */
export function announceSkip(what: string, variable: string): void {
  if (announced.has(what)) return;
  announced.add(what);
  console.warn(`[skipped] ${what}: set ${variable} to run (see README "Testing").`);
}
