import * as assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';

/**
 * Skips a test whose external tool (etcd, patroni, podman, openssl, a tmpfs mount) is missing on a developer's
 * machine. Under CI (CI=true) `.ci/run` installs every such tool, so a missing one fails the test instead:
 * a proof must never turn into a silent skip where it matters.
 */
export function skipUnlessCi(t: TestContext, missing: string): void {
  if (process.env.CI === 'true') assert.fail(`${missing}; .ci/run installs it, so under CI this is a failure`);
  t.skip(missing);
}

/**
 * `test` for a suite whose subject is started in `before` and may be absent (etcd not installed): while `subject()`
 * is undefined each test skips, or fails under CI (see {@link skipUnlessCi}).
 */
export function testsNeeding(subject: () => unknown, missing: string, defaultTimeoutMs: number):
(name: string, fn: () => Promise<void>, timeoutMs?: number) => void {
  return (name, fn, timeoutMs = defaultTimeoutMs) => {
    test(name, { timeout: timeoutMs }, async (ctx) => {
      if (!subject()) { skipUnlessCi(ctx, missing); return; }
      await fn();
    });
  };
}
