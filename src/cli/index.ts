// `cdk8s-ha` command line: `audit` and `availability` over YAML/JSON manifests. Not part of the jsii API.
import * as fs from 'fs';
import * as path from 'path';
import { AuditSeverity, HaAuditor } from '../audit/engine';
import { ManifestAvailability } from '../availability/manifests';

/** Where the CLI reads and writes; injectable so tests run it in-process. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly readStdin: () => string;
}

const USAGE = `usage: cdk8s-ha audit [--json] [--warnings-as-errors] [--skip HA029=reason ...] PATH...
       cdk8s-ha availability [--json] [--zones N] [--pod-availability P] PATH...
PATH is a YAML/JSON file (multi-document allowed), a directory (searched for *.yaml, *.yml, *.json) or - for stdin.
exit codes: 0 clean, 1 error findings, 2 unreadable input or bad usage
`;

class InputError extends Error {}

/** The YAML parser cdk8s bundles (cdk8s ships it in its own node_modules), so the CLI adds no dependency. */
function yamlParser(): any {
  const cdk8sDir = path.dirname(require.resolve('cdk8s'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(require.resolve('yaml', { paths: [cdk8sDir] }));
}

/** Parses one file's text into objects; throws InputError naming the source on a syntax error. */
export function parseManifests(text: string, source: string): any[] {
  if (/\.json$/i.test(source)) {
    try {
      const parsed = JSON.parse(text);
      return Array.isArray(parsed) ? parsed : [parsed];
    } catch (e) {
      throw new InputError(`${source}: invalid JSON: ${(e as Error).message}`);
    }
  }
  const YAML = yamlParser();
  const docs = YAML.parseAllDocuments(text, { version: '1.1' });
  const out: any[] = [];
  for (const doc of docs) {
    if (doc.errors?.length) throw new InputError(`${source}: invalid YAML: ${doc.errors[0].message.split('\n')[0]}`);
    const value = doc.toJSON();
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value)) throw new InputError(`${source}: a document is not a Kubernetes object (got ${Array.isArray(value) ? 'a list' : typeof value})`);
    out.push(value);
  }
  return out;
}

function collectFiles(p: string): string[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(p);
  } catch {
    throw new InputError(`${p}: no such file or directory`);
  }
  if (!stat.isDirectory()) return [p];
  return fs.readdirSync(p).sort().flatMap((entry) => {
    const full = path.join(p, entry);
    if (fs.statSync(full).isDirectory()) return collectFiles(full);
    return /\.(ya?ml|json)$/i.test(entry) ? [full] : [];
  });
}

function load(paths: string[], io: CliIo): any[] {
  const objects: any[] = [];
  for (const p of paths) {
    if (p === '-') { objects.push(...parseManifests(io.readStdin(), '<stdin>')); continue; }
    for (const file of collectFiles(p)) {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf-8');
      } catch (e) {
        throw new InputError(`${file}: ${(e as Error).message}`);
      }
      objects.push(...parseManifests(text, file));
    }
  }
  return objects;
}

function pad(cells: string[][]): string {
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n';
}

function formatNines(n: number): string {
  return Number.isFinite(n) ? n.toFixed(2) : 'inf';
}

/**
 * Runs the CLI with `argv` (without node and script) and returns the exit code.
 */
export function main(argv: string[], io: CliIo): number {
  const [command, ...rest] = argv;
  const paths: string[] = [];
  let json = false;
  let warningsAsErrors = false;
  let zones: number | undefined;
  let podAvailability: number | undefined;
  const skip: { ruleId: string; reason: string }[] = [];
  try {
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i];
      const value = () => {
        if (i + 1 >= rest.length) throw new InputError(`${a} needs a value`);
        return rest[++i];
      };
      if (a === '--json') {json = true;} else if (a === '--warnings-as-errors') {warningsAsErrors = true;} else if (a === '--zones') {zones = Number(value());} else if (a === '--pod-availability') {podAvailability = Number(value());} else if (a === '--skip') {
        const v = value();
        const eq = v.indexOf('=');
        skip.push({ ruleId: eq < 0 ? v : v.slice(0, eq), reason: eq < 0 ? '' : v.slice(eq + 1) });
      } else if (a === '-h' || a === '--help') { io.stdout(USAGE); return 0; } else if (a.startsWith('--')) {throw new InputError(`unknown option ${a}`);} else {paths.push(a);}
    }
    if (command !== 'audit' && command !== 'availability') throw new InputError(command ? `unknown command '${command}'` : 'missing command');
    if (paths.length === 0) throw new InputError('no PATH given (use - for stdin)');
    const objects = load(paths, io);
    if (command === 'audit') {
      const findings = HaAuditor.audit(objects, { skip, warningsAsErrors });
      io.stdout(json ? JSON.stringify(findings, null, 2) + '\n' : HaAuditor.format(findings));
      return findings.some((f) => f.severity === AuditSeverity.ERROR) ? 1 : 0;
    }
    const models = ManifestAvailability.analyze(objects, { zones, podAvailability });
    if (json) { io.stdout(JSON.stringify(models, (_k, v) => (v === Infinity ? 'Infinity' : v), 2) + '\n'); return 0; }
    const rows = [['WORKLOAD', 'REPLICAS', 'NEEDS', 'TOLERATES(members/nodes/zones)', 'PDB ALLOWS', 'AVAILABILITY', 'NINES']];
    for (const m of models) {
      const r = m.report;
      rows.push([
        `${m.kind}/${m.namespace}/${m.name}`,
        `${r.replicas}${m.replicasSource === 'hpa.minReplicas' ? ' (hpa min)' : ''}`,
        `${r.requiredReady}${r.quorum ? ' (quorum)' : ''}`,
        `${r.memberFailuresTolerated}/${r.nodeFailuresTolerated}/${r.zoneFailuresTolerated}`,
        r.hasDisruptionBudget ? `${r.allowedDisruptions}${r.disruptionsKeepRequired ? '' : ' (UNSAFE)'}` : 'no PDB',
        r.availability.toFixed(9),
        formatNines(r.nines),
      ]);
    }
    io.stdout(pad(rows) + `per-pod availability p=${models[0]?.report.podAvailability ?? podAvailability ?? 0.99}, zones=${models[0]?.report.zones ?? zones ?? 3}; worst placement the spreading allows\n`);
    return 0;
  } catch (e) {
    io.stderr(`cdk8s-ha: ${(e as Error).message}\n${e instanceof InputError ? USAGE : ''}`);
    return 2;
  }
}

/** Entry point of `bin/cdk8s-ha`. */
export function run(): void {
  process.exitCode = main(process.argv.slice(2), {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    readStdin: () => fs.readFileSync(0, 'utf-8'),
  });
}
