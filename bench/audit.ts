// Audit and availability-model time for N services of 5 objects each (a benchmark, not a test).
// Run: npx ts-node --project test/tsconfig.json bench/audit.ts 100 500
import { performance } from 'perf_hooks';
import { HaAuditor, ManifestAvailability } from '../src';
import { cleanStateless } from '../test/audit/fixtures';

function objectsFor(services: number): any[] {
  const objects: any[] = [];
  for (let i = 0; i < services; i++) {
    for (const o of cleanStateless()) {
      o.metadata.namespace = `ns-${i}`;
      objects.push(o);
    }
  }
  return objects;
}

const sizes = process.argv.slice(2).map(Number);
for (const services of sizes.length ? sizes : [100, 500]) {
  const objects = objectsFor(services);
  HaAuditor.audit(objects); // warm-up
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let run = 0; run < 7; run++) {
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    const findings = HaAuditor.audit(objects);
    ManifestAvailability.analyze(objects);
    const used = process.cpuUsage(cpuStart);
    wall.push(performance.now() - start);
    cpu.push((used.user + used.system) / 1000);
    if (findings.length !== 0) throw new Error(`expected a clean audit, got ${findings.length} findings`);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const fmt = (xs: number[]) => `${med(xs).toFixed(0)} ms (${Math.min(...xs).toFixed(0)} .. ${Math.max(...xs).toFixed(0)})`;
  console.log(`${services} services, ${objects.length} objects: wall ${fmt(wall)}, CPU ${fmt(cpu)}, load ${require('os').loadavg()[0].toFixed(1)}`);
}
