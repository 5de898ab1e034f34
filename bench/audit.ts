// What HaAudit adds to synthesis, and how HaAuditor.audit scales (a benchmark, not a test).
// Run: npm run bench:audit -- [--before REV] [--rounds N] [--scaling-only]
//   --before REV  also measures the audit of git revision REV (its src/ is extracted to dist/bench-before/REV and
//                 loaded side by side), interleaved with this tree's in the same rounds: before/after in one run.
// Scenarios: 1000 HighlyAvailableServices in one chart and 200 over 20 charts, synthesized with app.synthYaml() (what
// `cdk8s synth` does: validate, then render each chart, which validates again) with and without HaAudit.addTo(app);
// then HaAuditor.audit alone on 250..4000 services (5 objects each) for the time per object.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { App, Chart } from 'cdk8s';
import * as after from '../src';
import { cleanStateless } from '../test/audit/fixtures';

type Lib = typeof after;

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** This project's src/ at `rev`, extracted inside the repo so its imports resolve to the same node_modules. */
function loadRevision(rev: string): Lib {
  const root = path.join(__dirname, '..');
  const dir = path.join(root, 'dist', 'bench-before', rev.replace(/[^\w.-]/g, '_'));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const tar = execFileSync('git', ['archive', rev, 'src'], { cwd: root, maxBuffer: 1 << 28 });
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(dir, 'src'));
}

function buildApp(lib: Lib, services: number, charts: number, audit: boolean): App {
  const app = new App({ outdir: os.tmpdir() });
  const cs = Array.from({ length: charts }, (_, i) => new Chart(app, `c${i}`));
  for (let i = 0; i < services; i++) {
    new lib.HighlyAvailableService(cs[i % charts], `svc-${i}`, {
      image: `registry.local/svc-${i}:1.0.${i}`,
      readiness: lib.HaProbe.http('/ready'),
      liveness: lib.HaProbe.http('/healthz'),
      autoscaling: i % 2 === 0 ? { maxReplicas: 10 } : undefined,
    });
  }
  if (audit) lib.HaAudit.addTo(app, { printWarnings: false });
  return app;
}

/** CPU and wall milliseconds of `f`. */
function measure(f: () => void): { cpu: number; wall: number } {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  f();
  const cpu = process.cpuUsage(cpu0);
  return { cpu: (cpu.user + cpu.system) / 1000, wall: performance.now() - t0 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}..${Math.max(...xs).toFixed(0)}`;

function synthScenario(services: number, charts: number, rounds: number, variants: Array<[string, Lib, boolean]>): void {
  const cpu = new Map<string, number[]>(variants.map(([n]) => [n, []]));
  const wall = new Map<string, number[]>(variants.map(([n]) => [n, []]));
  buildApp(after, 20, 1, true).synthYaml(); // warm-up: module loading and JIT
  for (let r = 0; r < rounds; r++) {
    // interleaved, so load from other processes on the machine hits every variant alike
    for (const [name, lib, audit] of variants) {
      const app = buildApp(lib, services, charts, audit);
      global.gc?.();
      const m = measure(() => app.synthYaml());
      cpu.get(name)!.push(m.cpu);
      wall.get(name)!.push(m.wall);
    }
  }
  const base = median(cpu.get('no audit')!);
  console.log(`\n${services} services in ${charts} chart(s), app.synthYaml(), ${rounds} rounds (median CPU ms, range; wall ms)`);
  for (const [name] of variants) {
    const c = cpu.get(name)!;
    const added = name === 'no audit' ? '' : `  adds ${(median(c) - base).toFixed(0)} ms CPU (${(median(c) / base).toFixed(2)}x)`;
    console.log(`  ${name.padEnd(14)} CPU ${median(c).toFixed(0)} (${range(c)})  wall ${median(wall.get(name)!).toFixed(0)}${added}`);
  }
}

function auditScaling(libs: Array<[string, Lib]>, sizes: number[]): void {
  console.log('\nHaAuditor.audit alone (5 objects per service, 50 namespaces; median of 5 runs, CPU ms, µs per object)');
  for (const services of sizes) {
    const objects: any[] = [];
    for (let i = 0; i < services; i++) {
      for (const o of cleanStateless()) {
        o.metadata.namespace = `ns-${i % 50}`; // 50 namespaces: many objects share one, as in a real cluster
        o.metadata.name = `${o.metadata.name}-${i}`;
        if (o.spec?.scaleTargetRef) o.spec.scaleTargetRef.name = `web-${i}`;
        for (const sel of [o.spec?.selector?.matchLabels, o.spec?.podSelector?.matchLabels, o.spec?.template?.metadata?.labels]) {
          if (sel) sel.app = `web-${i}`;
        }
        if (o.kind === 'Service') o.spec.selector = { app: `web-${i}` };
        if (o.kind === 'Deployment') o.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchLabels.app = `web-${i}`;
        if (o.kind === 'Deployment') o.spec.template.spec.topologySpreadConstraints[0].labelSelector.matchLabels.app = `web-${i}`;
        objects.push(o);
      }
    }
    const cells = libs.map(([name, lib]) => {
      if (lib.HaAuditor.audit(objects).length !== 0) throw new Error(`${name}: expected a clean audit of ${services} services`);
      const runs = Array.from({ length: 5 }, () => measure(() => lib.HaAuditor.audit(objects)).cpu);
      return `${name} ${median(runs).toFixed(0)} ms (${(median(runs) * 1000 / objects.length).toFixed(1)} µs/object)`;
    });
    console.log(`  ${String(services).padStart(5)} services, ${objects.length} objects: ${cells.join('; ')}`);
  }
}

const rounds = Number(option('--rounds') ?? 5);
const beforeRev = option('--before');
const before = beforeRev ? loadRevision(beforeRev) : undefined;
console.log(`node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model}, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
const variants: Array<[string, Lib, boolean]> = [['no audit', after, false], ['HaAudit', after, true]];
if (before) variants.push([`HaAudit@${beforeRev}`, before, true]);
if (!process.argv.includes('--scaling-only')) {
  synthScenario(1000, 1, rounds, variants);
  synthScenario(200, 20, rounds, variants);
}
auditScaling(before ? [['this tree', after], [beforeRev!, before]] : [['this tree', after]], before ? [250, 500, 1000] : [250, 1000, 4000, 16000]);
console.log(`load after: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
