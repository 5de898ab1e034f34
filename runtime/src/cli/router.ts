/**
 * `ha-runtime router`: runs the router until SIGTERM or SIGINT. Exit 0 after a clean stop,
 * 2 on bad flags or environment.
 */
import { parseCommandLine } from './flags';
import { createClientServer } from './http-server';
import { parseRouterConfig, routerUsage } from './router-config';
import { Logger } from '../observability/logger';
import { Router } from '../router/router';

/** Runs the `router` subcommand; resolves to the process exit code. */
export async function routerCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandLine('router', argv, routerUsage, parseRouterConfig);
  if ('exitCode' in parsed) return parsed.exitCode;
  const config = parsed.config;
  const limits = config.http!;
  const router = new Router({ ...config, createServer: (handler) => createClientServer(handler, limits) });
  const port = await router.start();
  const logger = new Logger('info', { component: 'router' });
  const log = (msg: string, fields: Record<string, unknown> = {}): void => logger.info(msg, fields);
  log('router listening', { host: config.listenHost, port, shards: [...config.shards.keys()] });
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      log('stopping', { signal });
      stopping = true;
      void router.close().then(resolve);
    };
    // SIGTERM drains first (see RouterConfig.drainMs); SIGINT, or a second SIGTERM, stops at once.
    process.on('SIGTERM', () => {
      if (stopping || router.isDraining()) return stop('SIGTERM');
      log('draining', { signal: 'SIGTERM', drainMs: config.drainMs });
      router.drain();
      setTimeout(() => { if (!stopping) stop('SIGTERM'); }, config.drainMs);
    });
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}
