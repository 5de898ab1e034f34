/**
 * A minimal Prometheus registry (text exposition format 0.0.4): counters, gauges and
 * cumulative histograms, enough for /metrics without a dependency.
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/
 */

import { IntervalHistogram, monitorEventLoopDelay } from 'perf_hooks';

/** Label names to values of one series. */
export type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

interface Metric {
  render(): string;
}

/** A monotonically increasing count, optionally split by labels. */
export class Counter implements Metric {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  /** Adds `n` (default 1) to the series with `labels`. */
  inc(labels: Labels = {}, n = 1): void {
    const key = labelText(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + n);
  }
  /** One series, its label text rendered once: for a hot path that counts the same labels again and again. */
  series(labels: Labels): { inc(n?: number): void } {
    const key = labelText(labels);
    return { inc: (n = 1) => { this.values.set(key, (this.values.get(key) ?? 0) + n); } };
  }
  /** The current value of one series (for tests and logs). */
  value(labels: Labels = {}): number { return this.values.get(labelText(labels)) ?? 0; }
  /** The sum over every series. */
  total(): number {
    let sum = 0;
    for (const v of this.values.values()) sum += v;
    return sum;
  }
  render(): string { return this.renderAs(this.name, this.help); }
  /** The series under another name (see {@link MetricsRegistry.alias}). */
  renderAs(name: string, help: string): string {
    const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} counter`];
    if (this.values.size === 0) lines.push(`${name} 0`);
    for (const [k, v] of this.values) lines.push(`${name}${k} ${v}`);
    return lines.join('\n');
  }
}

/** A value read at scrape time from a callback, so it is never stale. */
export class Gauge implements Metric {
  constructor(readonly name: string, readonly help: string, private readonly read: () => number) {}
  render(): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} gauge\n${this.name} ${this.read()}`;
  }
}

/** Several series read at scrape time, one per label set (e.g. one per shard or member): gauges, or counters. */
export class SeriesFamily implements Metric {
  constructor(readonly name: string, readonly help: string, private readonly read: () => Iterable<readonly [Labels, number]>,
    private readonly type: 'gauge' | 'counter' = 'gauge') {}
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const [labels, value] of this.read()) lines.push(`${this.name}${labelText(labels)} ${value}`);
    return lines.join('\n');
  }
}

/** Default latency buckets in seconds: 0.5 ms to 10 s. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A cumulative histogram of observations in seconds. */
export class Histogram implements Metric {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(readonly name: string, readonly help: string, private readonly buckets: readonly number[] = LATENCY_BUCKETS) {
    this.counts = new Array(buckets.length).fill(0);
  }
  /** Records one observation (seconds). */
  observe(seconds: number): void {
    this.sum += seconds;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (seconds <= this.buckets[i]) { this.counts[i]++; break; }
  }
  /** Number of observations so far. */
  get observations(): number { return this.count; }
  render(): string { return this.renderAs(this.name, this.help); }
  /** The histogram under another name (see {@link MetricsRegistry.alias}). */
  renderAs(name: string, help: string): string {
    const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
    let cumulative = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      cumulative += this.counts[i];
      lines.push(`${name}_bucket{le="${this.buckets[i]}"} ${cumulative}`);
    }
    lines.push(`${name}_bucket{le="+Inf"} ${this.count}`, `${name}_sum ${this.sum}`, `${name}_count ${this.count}`);
    return lines.join('\n');
  }
}

/** Holds metrics in registration order and renders them for a scrape. */
export class MetricsRegistry {
  private readonly metrics: Metric[] = [];
  /** Registers and returns a counter. */
  counter(name: string, help: string): Counter { return this.add(new Counter(name, help)); }
  /** Registers and returns a gauge read by `read` at scrape time. */
  gauge(name: string, help: string, read: () => number): Gauge { return this.add(new Gauge(name, help, read)); }
  /** Registers and returns a gauge family whose series `read` lists at scrape time. */
  gaugeFamily(name: string, help: string, read: () => Iterable<readonly [Labels, number]>): SeriesFamily {
    return this.add(new SeriesFamily(name, help, read));
  }
  /** Registers and returns a histogram. */
  histogram(name: string, help: string, buckets?: readonly number[]): Histogram { return this.add(new Histogram(name, help, buckets)); }
  /** Registers counters read at scrape time, one per label set (each must never decrease while the process runs). */
  counterFamily(name: string, help: string, read: () => Iterable<readonly [Labels, number]>): SeriesFamily {
    return this.add(new SeriesFamily(name, help, read, 'counter'));
  }
  /**
   * Renders `metric`'s series a second time under `name`: for names other tools already query (etcd's), one
   * measurement behind both.
   */
  alias(name: string, help: string, metric: Counter | Histogram): void {
    this.add({ render: () => metric.renderAs(name, help) });
  }
  /** The text exposition of every metric. */
  render(): string { return this.metrics.map((m) => m.render()).join('\n') + '\n'; }
  private add<T extends Metric>(m: T): T { this.metrics.push(m); return m; }
}

/** The process's one event-loop delay monitor (registerProcessMetrics), created on first use. */
let loopDelay: IntervalHistogram | undefined;

/**
 * The process's memory and event-loop delay under the names Prometheus client libraries use (prom-client's
 * defaults), so existing dashboards and alerts (a memory limit, a stalled loop) work unchanged.
 */
export function registerProcessMetrics(m: MetricsRegistry): void {
  m.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', () => process.memoryUsage.rss());
  m.gauge('nodejs_heap_size_total_bytes', 'V8 heap size in bytes.', () => process.memoryUsage().heapTotal);
  m.gauge('nodejs_heap_size_used_bytes', 'V8 heap in use in bytes.', () => process.memoryUsage().heapUsed);
  // Event-loop delay since the last scrape: a member whose loop stalls misses heartbeats and delays every request.
  // One monitor per process (a member restarted in-process registers its metrics again).
  loopDelay ??= monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const delay = loopDelay;
  m.gauge('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of event-loop delay since the last scrape, in seconds.', () => delay.percentile(99) / 1e9);
  m.gauge('nodejs_eventloop_lag_max_seconds', 'The longest event-loop delay since the last scrape, in seconds (resets on each scrape).', () => {
    const max = delay.max / 1e9;
    delay.reset();
    return max;
  });
  m.gauge('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JavaScript (Buffers among them) in bytes.', () => process.memoryUsage().external);
}
