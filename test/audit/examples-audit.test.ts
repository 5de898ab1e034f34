import * as fs from 'fs';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { HaAudit, HaAuditor, ManifestAvailability } from '../../src';

// Every example of the project (examples/<name>/main.ts exporting buildChart(app)), found on disk so a new example
// is audited without touching this test.
const root = path.join(__dirname, '..', '..');
const names = fs.readdirSync(path.join(root, 'examples')).filter((n) => fs.existsSync(path.join(root, 'examples', n, 'main.ts'))).sort();

test('the project has examples to audit', () => {
  expect(names.length).toBeGreaterThan(0);
});

describe.each(names)('examples/%s', (name) => {
  test('is audited clean: no error and no warning', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { buildChart } = require(path.join(root, 'examples', name, 'main.ts'));
    const app = Testing.app();
    const charts: Chart[] = [buildChart(app)].flat();
    const audit = HaAudit.addTo(app, { printWarnings: false });
    const objects = charts.flatMap((c) => Testing.synth(c)); // Testing.synth validates the app: the audit runs
    expect(HaAuditor.audit(objects)).toEqual([]);
    expect(audit.findings).toEqual([]);
    // and the model finds every replicated workload, each tolerating at least one member failure
    const models = ManifestAvailability.analyze(objects);
    expect(models.length).toBeGreaterThan(0);
    for (const m of models) {
      expect(m.report.memberFailuresTolerated).toBeGreaterThanOrEqual(1);
      expect(m.report.disruptionsKeepRequired).toBe(true);
    }
  });
});
