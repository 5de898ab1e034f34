/**
 * `ha-runtime wal-inspect <data-dir> [--json]`: describes a FileLogStore directory without
 * modifying it, and says whether the server would start from it. Exit 0: it would (a torn tail is
 * reported; the server truncates it at start), 1: corruption (the message says what to do),
 * 2: bad usage or an unreadable directory.
 */
import { FileLogStore } from '../storage/file-log-store';
import { CorruptionError } from '../storage/log-store';

/** Runs the command; returns the exit code. */
export async function walInspectCommand(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const dirs = argv.filter((a) => a !== '--json');
  if (dirs.length !== 1 || dirs[0].startsWith('-')) {
    process.stderr.write('usage: ha-runtime wal-inspect <data-dir> [--json]\n');
    return 2;
  }
  try {
    const report = await FileLogStore.inspect(dirs[0]);
    if (json) {
      process.stdout.write(`${JSON.stringify({ ok: true, ...report })}\n`);
      return 0;
    }
    const lines = [
      `data dir:        ${dirs[0]}`,
      `hard state:      term ${report.hardState.term}, vote ${report.hardState.vote}, commit ${report.hardState.commit}`,
      `newest snapshot: ${report.newestSnapshot ? `index ${report.newestSnapshot.index}, term ${report.newestSnapshot.term}, ${report.newestSnapshot.bytes} bytes, voters [${report.newestSnapshot.confState.voters.join(', ')}]` : 'none'}`,
      `log:             ${report.firstIndex === undefined ? 'empty' : `entries ${report.firstIndex}..${report.lastIndex} (last term ${report.lastTerm})`}`,
      `segments:        ${report.segments.length}`,
      ...report.segments.map((s) => `  ${s.file}: ${s.records} records, ${s.bytes} bytes, max entry index ${s.maxEntryIndex}`),
      report.tornTailAt ? `torn tail:       ${report.tornTailAt.file} at offset ${report.tornTailAt.offset} (never acknowledged; truncated at start)` : 'torn tail:       none',
      `temporaries:     ${report.temporaryFiles.length ? report.temporaryFiles.join(', ') : 'none'}`,
      'verdict:         the server can start from this directory',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } catch (e) {
    if (e instanceof CorruptionError) {
      if (json) process.stdout.write(`${JSON.stringify({ ok: false, file: e.file, offset: e.offset, error: e.message })}\n`);
      else process.stdout.write(`verdict: CORRUPT\n${e.message}\n`);
      return 1;
    }
    process.stderr.write(`wal-inspect: ${(e as Error).message}\n`);
    return 2;
  }
}
