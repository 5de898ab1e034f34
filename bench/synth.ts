// Synth time for N HighlyAvailableServices in one chart (a benchmark, not a test).
// Run: npx ts-node --project test/tsconfig.json bench/synth.ts 200
import { performance } from 'perf_hooks';
import { App, Chart } from 'cdk8s';
import { HaProbe, HighlyAvailableService } from '../src';

function synthOnce(services: number): { ms: number; cpuMs: number; objects: number } {
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const app = new App({ outdir: '/dev/null' });
  const chart = new Chart(app, 'bench');
  for (let i = 0; i < services; i++) {
    new HighlyAvailableService(chart, `svc-${i}`, {
      image: `registry.local/svc-${i}:1.0.${i}`,
      readiness: HaProbe.http('/ready'),
      liveness: HaProbe.http('/healthz'),
      autoscaling: i % 2 === 0 ? { maxReplicas: 10 } : undefined,
    });
  }
  const objects = chart.toJson().length; // renders every manifest (patches, validation) without disk I/O
  const cpu = process.cpuUsage(cpuStart);
  // CPU time (user + system) is the figure to compare on a shared machine; wall time includes waiting for a core.
  return { ms: performance.now() - start, cpuMs: (cpu.user + cpu.system) / 1000, objects };
}

const services = Number(process.argv[2] ?? 200);
const runs = Number(process.argv[3] ?? 7);
if (!Number.isInteger(services) || services < 1 || !Number.isInteger(runs) || runs < 1) {
  throw new Error(`usage: bench/synth.ts SERVICES RUNS (got ${process.argv[2]}, ${process.argv[3]})`);
}
synthOnce(Math.min(services, 20)); // warm-up: module loading and JIT are not what we measure
const times: number[] = [];
const cpuTimes: number[] = [];
let objects = 0;
for (let r = 0; r < runs; r++) {
  const result = synthOnce(services);
  times.push(result.ms);
  cpuTimes.push(result.cpuMs);
  objects = result.objects;
}
times.sort((a, b) => a - b);
cpuTimes.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
const cpuMedian = cpuTimes[Math.floor(cpuTimes.length / 2)];
console.log(JSON.stringify({
  services, objects, runs,
  medianMs: Math.round(median), minMs: Math.round(times[0]), maxMs: Math.round(times[times.length - 1]),
  msPerService: Number((median / services).toFixed(2)),
  cpuMedianMs: Math.round(cpuMedian), cpuMinMs: Math.round(cpuTimes[0]), cpuMaxMs: Math.round(cpuTimes[cpuTimes.length - 1]),
}));
