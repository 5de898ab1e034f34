import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ApiObject, App, Chart, Include, JsonPatch, Lazy, Testing, Yaml } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { HaAudit, HaAuditor } from '../../src';
import { main } from '../../src/cli';

const fixture = path.join(__dirname, 'fixtures', 'my-service.yaml');
// an example that audits clean, so synthesis with the audit succeeds
// eslint-disable-next-line @typescript-eslint/no-require-imports
const buildShop: (app: App) => Chart = require('../../examples/my-service/main').buildChart;

function runCli(argv: string[], stdin = ''): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = main(argv, { stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, readStdin: () => stdin });
  return { code, out, err };
}

describe('HaAudit in a cdk8s app', () => {
  test('GIVEN the tutorial YAML included in a chart WHEN synthesized THEN synthesis fails naming object, rule and fix', () => {
    const app = Testing.app();
    const chart = new Chart(app, 'tutorial');
    new Include(chart, 'my-service', { url: fixture });
    HaAudit.addTo(app, { printWarnings: false });
    expect(() => Testing.synth(chart)).toThrow(/HaAudit HA002 Deployment\/default\/my-service: no PodDisruptionBudget selects its pods; fix: add a PodDisruptionBudget/);
  });

  test('GIVEN plain cdk8s-plus objects THEN the audit sees them too', () => {
    const app = Testing.app();
    const chart = new Chart(app, 'plain');
    new kplus.Deployment(chart, 'web', { replicas: 1, containers: [{ image: 'nginx', portNumber: 80 }] });
    const audit = HaAudit.addTo(app, { printWarnings: false });
    expect(() => Testing.synth(chart)).toThrow(/HA001 Deployment\/default\/plain-web-c8\w+: runs 1 replica/);
    expect(audit.findings.map((f) => f.ruleId)).toEqual(expect.arrayContaining(['HA001', 'HA002', 'HA008', 'HA022']));
  });

  test('warnings go to stderr once, and do not fail synthesis', () => {
    const app = Testing.app();
    const charts = ['a', 'b'].map((id) => new Chart(app, id));
    new Include(charts[0], 'my-service', { url: fixture });
    HaAudit.addTo(app, { skip: ['HA002', 'HA008', 'HA012', 'HA013', 'HA023', 'HA025'].map((ruleId) => ({ ruleId, reason: 'warnings only' })) });
    const writes: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: any) => { writes.push(String(chunk)); return true; });
    try {
      charts.forEach((c) => Testing.synth(c)); // cdk8s validates the whole app for each chart
    } finally {
      spy.mockRestore();
    }
    expect(writes.filter((w) => w.startsWith('HaAudit: 6 warning(s)'))).toHaveLength(1);
  });

  test('one audit per synthesis call, however many charts; a change between two calls is seen', () => {
    const app = Testing.app();
    const charts = ['a', 'b', 'c'].map((id) => new Chart(app, id));
    charts.forEach((c, i) => new kplus.Deployment(c, 'web', { replicas: 2 + i, containers: [{ image: 'nginx:1.27.3', portNumber: 80 }] }));
    const audit = HaAudit.addTo(app, { printWarnings: false });
    const spy = jest.spyOn(HaAuditor, 'audit');
    try {
      expect(() => app.synthYaml()).toThrow(/HA002/); // validates 4 times: the app, then each of 3 charts
      expect(spy).toHaveBeenCalledTimes(1);
      const before = audit.findings.filter((f) => f.ruleId === 'HA002').length;
      expect(before).toBe(3);
      // WHEN a PDB covering every pod of the namespace is added and the app is synthesized again in the same tick
      new ApiObject(charts[0], 'pdb', { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'all' }, spec: { maxUnavailable: 1, selector: {} } });
      expect(() => app.synthYaml()).toThrow(/HA008/);
      expect(spy).toHaveBeenCalledTimes(2);
      expect(audit.findings.filter((f) => f.ruleId === 'HA002')).toHaveLength(0);
      // a validation outside synthesis always audits
      app.node.validate();
      expect(spy).toHaveBeenCalledTimes(3);
    } finally {
      spy.mockRestore();
    }
  });

  test('the manifests are exactly those synthesized without the audit, and a change between two synths reaches them', () => {
    // the audit's renderings are reused for the output within one synthesis call: they must be the same manifests
    const build = (audit: boolean) => {
      const app = Testing.app();
      const chart = buildShop(app);
      if (audit) HaAudit.addTo(app, { printWarnings: false });
      return { app, chart };
    };
    const plain = build(false).app.synthYaml();
    const { app, chart } = build(true);
    // a value that counts its renderings: one per synthesis, shared by the audit and the output
    let renderings = 0;
    new ApiObject(chart, 'counter', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'counter' }, data: { n: Lazy.any({ produce: () => String(++renderings) }) } });
    expect(app.synthYaml()).toBe(`${plain}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: counter\n  namespace: my-service\ndata:\n  "n": "1"\n`);
    expect(renderings).toBe(1);
    // WHEN an object changes after a synthesis THEN the next synthesis renders it afresh, in the audit and the output
    const deployment = chart.node.findAll().filter(ApiObject.isApiObject).find((o) => (o as ApiObject).kind === 'Deployment') as ApiObject;
    deployment.addJsonPatch(JsonPatch.add('/metadata/annotations', { changed: 'after-first-synth' }));
    expect(app.synthYaml()).toContain('changed: after-first-synth');
    deployment.addJsonPatch(JsonPatch.replace('/spec/template/spec/containers/0/image', 'Bad:1'));
    expect(() => app.synthYaml()).toThrow(/HA034 Deployment\/[\w-]+\/[\w-]+: container '[\w-]+': image "Bad:1" is not a valid reference/);
    // outside synthesis toJson is never remembered
    deployment.addJsonPatch(JsonPatch.replace('/spec/template/spec/containers/0/image', 'good:2'));
    expect(deployment.toJson().spec.template.spec.containers[0].image).toBe('good:2');
  });

  test('a global skip without a reason fails at the call site', () => {
    expect(() => HaAudit.addTo(new App(), { skip: [{ ruleId: 'HA029', reason: '' }] })).toThrow(/a reason is required/);
  });

  test('the Aspect and the CLI give the same findings on the same objects', () => {
    const app = Testing.app();
    const chart = new Chart(app, 'tutorial');
    new Include(chart, 'my-service', { url: fixture });
    // also a deliberately broken PDB and HPA, so cross-object rules are compared too
    new ApiObject(chart, 'pdb', { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'all' }, spec: { minAvailable: 3, selector: { matchLabels: { app: 'my-service' } } } });
    new ApiObject(chart, 'hpa', { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'ghost' }, spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'ghost' }, maxReplicas: 3 } });
    const audit = HaAudit.addTo(app, { printWarnings: false });
    expect(() => app.synth()).toThrow(/Validation failed/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk8s-ha-audit-'));
    try {
      // the same objects the Aspect saw (chart.toJson() would run the validation again and throw)
      const objects = chart.node.findAll().filter(ApiObject.isApiObject).map((o) => (o as ApiObject).toJson());
      fs.writeFileSync(path.join(dir, 'chart.json'), JSON.stringify(objects));
      const cli = runCli(['audit', '--json', dir]);
      expect(cli.code).toBe(1);
      expect(JSON.parse(cli.out)).toEqual(audit.findings);
      expect(audit.findings.map((f) => f.ruleId)).toEqual(expect.arrayContaining(['HA003', 'HA019', 'HA020']));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cdk8s-ha CLI', () => {
  test('the tutorial manifests, as a user sees them', () => {
    const r = runCli(['audit', fixture]);
    expect(r.code).toBe(1);
    expect(r.out).toMatchSnapshot();
    // the README shows exactly this output
    expect(fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf-8')).toContain(r.out);
  });

  test('stdin, --json, and the availability table', () => {
    const yaml = fs.readFileSync(fixture, 'utf-8');
    const r = runCli(['audit', '--json', '-'], yaml);
    expect(JSON.parse(r.out)).toEqual(HaAuditor.audit(Yaml.load(fixture)));
    const a = runCli(['availability', '--pod-availability', '0.999', fixture]);
    expect(a.code).toBe(0);
    expect(a.out).toMatchSnapshot();
  });

  test('Helm-style output: leading ---, comments, empty documents and a kind: List', () => {
    const helm = [
      '---', '# Source: web/templates/deployment.yaml', fs.readFileSync(fixture, 'utf-8'), '---', '# empty document', '---',
      'apiVersion: v1', 'kind: List', 'items:', '  - apiVersion: policy/v1', '    kind: PodDisruptionBudget',
      '    metadata: { name: my-service }', '    spec: { maxUnavailable: 1, unhealthyPodEvictionPolicy: AlwaysAllow, selector: { matchLabels: { app: my-service } } }',
    ].join('\n');
    const r = runCli(['audit', '--json', '-'], helm);
    const ids = JSON.parse(r.out).map((f: any) => f.ruleId);
    expect(ids).not.toContain('HA002'); // the PDB inside the List was seen
    expect(ids).toContain('HA008');
  });

  test('exit 2 on unreadable input or bad usage, naming the problem', () => {
    expect(runCli(['audit', '/nonexistent/x.yaml'])).toMatchObject({ code: 2, err: expect.stringContaining('/nonexistent/x.yaml: no such file or directory') });
    expect(runCli(['audit', '-'], 'a: [1, 2\n')).toMatchObject({ code: 2, err: expect.stringContaining('<stdin>: invalid YAML') });
    expect(runCli(['audit', '-'], '- 1\n- 2\n')).toMatchObject({ code: 2, err: expect.stringContaining('not a Kubernetes object') });
    expect(runCli(['audit'])).toMatchObject({ code: 2, err: expect.stringContaining('no PATH given') });
    expect(runCli(['lint', fixture])).toMatchObject({ code: 2, err: expect.stringContaining("unknown command 'lint'") });
    expect(runCli(['audit', '--skip', 'HA029', fixture])).toMatchObject({ code: 2, err: expect.stringContaining('a reason is required') });
  });

  test('exit 0 when clean (warnings only), multi-document files and directories', () => {
    const r = runCli(['audit', '--skip', 'HA002=tested', '--skip', 'HA008=tested', '--skip', 'HA012=tested', '--skip', 'HA013=tested', '--skip', 'HA023=tested', '--skip', 'HA025=tested', path.dirname(fixture)]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^0 error\(s\), 6 warning\(s\)$/m);
  });

  test('the shipped bin runs as a subprocess (compiled lib/ when present, else ts-node)', () => {
    const root = path.join(__dirname, '..', '..');
    const compiled = fs.existsSync(path.join(root, 'lib', 'cli', 'index.js'));
    const args = compiled
      ? [path.join(root, 'bin', 'cdk8s-ha'), 'audit', fixture]
      // `node -e` puts no script path in argv, so a placeholder keeps run()'s argv.slice(2) at 'audit'.
      : ['-r', 'ts-node/register', '-e', 'require("./src/cli").run()', '--', 'cdk8s-ha', 'audit', fixture];
    const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf-8', timeout: 60_000, env: { ...process.env, TS_NODE_PROJECT: 'test/tsconfig.json', TS_NODE_TRANSPILE_ONLY: '1' } });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe(runCli(['audit', fixture]).out);
  });
});
