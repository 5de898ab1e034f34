/**
 * The `ha-runtime` command line. It only dispatches: each command's entry, and all wiring of the
 * runtime's parts, lives in cli/ (see runtime/README.md). Each subcommand lives in its own module and is loaded lazily, so `lincheck` never pays
 * for the server's start-up.
 */
type Command = (argv: string[]) => Promise<number> | number;

const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  'raft': {
    summary: 'run a member of the Raft replicated key-value store (see ha-runtime raft --help)',
    load: async () => (await import('./cli/raft.js')).raftCommand,
  },
  'router': {
    summary: 'route /v1/kv requests to Raft shards on a consistent-hash ring (see ha-runtime router --help)',
    load: async () => (await import('./cli/router.js')).routerCommand,
  },
  'reshard': {
    summary: 'move the store online to a new set of shards, slot by slot (see ha-runtime reshard --help)',
    load: async () => (await import('./cli/reshard.js')).reshardCommand,
  },
  'lincheck': {
    summary: 'check a JSON Lines history for linearizability (exit 0 ok, 1 not linearizable, 2 bad input, 3 out of time)',
    load: async () => (await import('./cli/lincheck.js')).lincheckCommand,
  },
  'restore': {
    summary: 'build a new cluster member\'s data dir from a backup (GET /v1/snapshot); see ha-runtime restore --help',
    load: async () => (await import('./cli/restore.js')).restoreCommand,
  },
  'wal-inspect': {
    summary: 'describe a Raft data directory read-only; exit 0 would start, 1 corrupt (says what to do), 2 bad usage',
    load: async () => (await import('./cli/wal-inspect.js')).walInspectCommand,
  },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`);
  return `usage: ha-runtime <command> [flags]\n\ncommands:\n${lines.join('\n')}\n`;
}

export function main(argv: string[]): void {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    process.exitCode = name ? 0 : 2;
    return;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`ha-runtime: unknown command '${name}'\n\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  Promise.resolve()
    .then(async () => (await command.load())(rest))
    .then((code) => { process.exitCode = code; })
    .catch((err: unknown) => {
      process.stderr.write(`ha-runtime ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 2;
    });
}
