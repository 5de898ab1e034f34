/** Structured JSON logs, one object per line on stderr, so log collectors parse them without rules. */

/** Severity, in increasing order. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A logger bound to fixed fields (e.g. the member name). */
export class Logger {
  constructor(
    private readonly level: LogLevel,
    private readonly fields: Record<string, unknown> = {},
    private readonly write: (line: string) => void = (l) => process.stderr.write(l),
  ) {}
  /** A logger that adds `fields` to every line. */
  child(fields: Record<string, unknown>): Logger { return new Logger(this.level, { ...this.fields, ...fields }, this.write); }
  debug(msg: string, fields?: Record<string, unknown>): void { this.log('debug', msg, fields); }
  info(msg: string, fields?: Record<string, unknown>): void { this.log('info', msg, fields); }
  warn(msg: string, fields?: Record<string, unknown>): void { this.log('warn', msg, fields); }
  error(msg: string, fields?: Record<string, unknown>): void { this.log('error', msg, fields); }
  private log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (ORDER[level] < ORDER[this.level]) return;
    const record = { ts: new Date().toISOString(), level, msg, ...this.fields, ...fields };
    this.write(JSON.stringify(record, (_k, v) => (v instanceof Error ? v.message : v)) + '\n');
  }
}
