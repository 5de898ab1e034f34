import * as assert from 'node:assert/strict';
import type { TestContext } from 'node:test';

/**
 * Skips a test whose external tool (etcd, patroni, podman, openssl, a tmpfs mount) is missing on a developer's
 * machine. Under CI (CI=true) `.ci/run` installs every such tool, so a missing one fails the test instead:
 * a proof must never turn into a silent skip where it matters.
 */
export function skipUnlessCi(t: TestContext, missing: string): void {
  if (process.env.CI === 'true') assert.fail(`${missing}; .ci/run installs it, so under CI this is a failure`);
  t.skip(missing);
}
