import { k8s } from 'cdk8s-plus-28';

/**
 * How often a probe runs and how many failures it tolerates. Unset fields take the defaults of the
 * probe's purpose (see `ProbePurpose`), so a readiness probe fails fast and a liveness probe is lenient
 * even when both check the same endpoint.
 */
export interface ProbeTiming {
  /**
   * Seconds after the container starts before the first probe.
   * @default 0 (a startup probe, not a fixed delay, covers slow boots)
   */
  readonly initialDelaySeconds?: number;
  /**
   * Seconds between two probes.
   * @default - readiness 5, liveness 10, startup 5
   */
  readonly periodSeconds?: number;
  /**
   * Seconds after which one probe counts as failed. Must not exceed `periodSeconds`.
   * @default - readiness 2, liveness 5, startup 3
   */
  readonly timeoutSeconds?: number;
  /**
   * Consecutive failures before the probe's action (out of rotation, restart).
   * @default - readiness 2 (out of rotation within 10 s), liveness 6 (restart after 60 s), startup 60 (5 min to boot)
   */
  readonly failureThreshold?: number;
}

/** What a probe is for: each purpose has its own default timing. */
export enum ProbePurpose {
  /** Takes a pod out of Service endpoints quickly when it cannot serve; never restarts it. */
  READINESS = 'readiness',
  /** Restarts a wedged container; lenient so a slow dependency never restarts every pod at once. */
  LIVENESS = 'liveness',
  /** Holds back readiness and liveness until a slow boot completes. */
  STARTUP = 'startup',
}

const PURPOSE_DEFAULTS: Record<ProbePurpose, Required<ProbeTiming>> = {
  [ProbePurpose.READINESS]: { initialDelaySeconds: 0, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
  [ProbePurpose.LIVENESS]: { initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
  [ProbePurpose.STARTUP]: { initialDelaySeconds: 0, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 60 },
};

/** Options of a probe that connects to a port. */
export interface PortProbeOptions extends ProbeTiming {
  /**
   * Container port to probe.
   * @default - the construct's container port
   */
  readonly port?: number;
}

/** Options of an HTTP GET probe. */
export interface HttpProbeOptions extends PortProbeOptions {
  /**
   * Use HTTPS (the kubelet does not verify the certificate).
   * @default false
   */
  readonly https?: boolean;
}

/** Options of a gRPC health-checking-protocol probe. */
export interface GrpcProbeOptions extends PortProbeOptions {
  /**
   * The `service` field of the grpc.health.v1 HealthCheckRequest.
   * @default - the server's overall health ("")
   */
  readonly service?: string;
}

type ProbeAction =
  | { kind: 'http'; path: string; https: boolean }
  | { kind: 'tcp' }
  | { kind: 'grpc'; service?: string }
  | { kind: 'command'; command: string[] };

/**
 * A container probe: HTTP GET, TCP connect, gRPC health check or command, with a timing that defaults by
 * purpose. cdk8s-plus-28 has no gRPC probe; this class renders every kind to the Kubernetes 1.28 `Probe`.
 */
export class HaProbe {
  /** An HTTP GET on `path` (must start with '/'); 200-399 is healthy. */
  public static http(path: string, options: HttpProbeOptions = {}): HaProbe {
    if (!path.startsWith('/')) {
      throw new Error(`HaProbe.http: path '${path}' must start with '/'; use e.g. '/healthz'`);
    }
    return new HaProbe({ kind: 'http', path, https: options.https ?? false }, options, options.port);
  }

  /** A TCP connect: only proves the process listens, not that it can serve. */
  public static tcp(options: PortProbeOptions = {}): HaProbe {
    return new HaProbe({ kind: 'tcp' }, options, options.port);
  }

  /** A grpc.health.v1 check (Kubernetes >= 1.27 GA). */
  public static grpc(options: GrpcProbeOptions = {}): HaProbe {
    return new HaProbe({ kind: 'grpc', service: options.service }, options, options.port);
  }

  /** A command run in the container; exit 0 is healthy. Needs the binary in the image. */
  public static command(command: string[], options: ProbeTiming = {}): HaProbe {
    if (command.length === 0) {
      throw new Error('HaProbe.command: command is empty; pass the executable and its arguments, e.g. [\'/bin/check\']');
    }
    return new HaProbe({ kind: 'command', command: [...command] }, options, undefined);
  }

  private constructor(
    private readonly action: ProbeAction,
    private readonly timing: ProbeTiming,
    private readonly port: number | undefined,
  ) {}

  /**
   * The probe's timing with the purpose's defaults filled in.
   */
  public timingFor(purpose: ProbePurpose): ProbeTiming {
    const d = PURPOSE_DEFAULTS[purpose];
    return {
      initialDelaySeconds: this.timing.initialDelaySeconds ?? d.initialDelaySeconds,
      periodSeconds: this.timing.periodSeconds ?? d.periodSeconds,
      timeoutSeconds: this.timing.timeoutSeconds ?? d.timeoutSeconds,
      failureThreshold: this.timing.failureThreshold ?? d.failureThreshold,
    };
  }

  /**
   * The port this probe connects to, or undefined for a command probe.
   * @param defaultPort the port used when the probe names none
   */
  public portFor(defaultPort: number): number | undefined {
    return this.action.kind === 'command' ? undefined : this.port ?? defaultPort;
  }

  /**
   * Renders the typed Kubernetes `Probe` for a purpose. Typed, because a JSON patch on a cdk8s-plus object
   * passes through the generated `toJson_*` mappers, which silently drop what they do not know.
   * @internal
   */
  public _render(purpose: ProbePurpose, defaultPort: number, owner: string): k8s.Probe {
    const t = this.timingFor(purpose);
    const where = `${owner}: ${purpose} probe`;
    for (const [key, min] of [['periodSeconds', 1], ['timeoutSeconds', 1], ['failureThreshold', 1], ['initialDelaySeconds', 0]] as const) {
      const v = t[key]!;
      if (!Number.isInteger(v) || v < min) throw new Error(`${where} ${key} (${v}) must be an integer >= ${min}; e.g. ${PURPOSE_DEFAULTS[purpose][key]}`);
    }
    if (t.timeoutSeconds! > t.periodSeconds!) {
      throw new Error(`${where} timeoutSeconds (${t.timeoutSeconds}) must be <= periodSeconds (${t.periodSeconds}); probes would overlap`);
    }
    const port = this.portFor(defaultPort);
    if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
      throw new Error(`${where} port (${port}) must be an integer in 1..65535; probe the port the container listens on`);
    }
    const a = this.action;
    const handler: k8s.Probe =
      a.kind === 'http' ? { httpGet: { path: a.path, port: k8s.IntOrString.fromNumber(port!), scheme: a.https ? 'HTTPS' : 'HTTP' } }
        : a.kind === 'tcp' ? { tcpSocket: { port: k8s.IntOrString.fromNumber(port!) } }
          : a.kind === 'grpc' ? { grpc: { port: port!, service: a.service } }
            : { exec: { command: a.command } };
    return {
      ...handler,
      initialDelaySeconds: t.initialDelaySeconds,
      periodSeconds: t.periodSeconds,
      timeoutSeconds: t.timeoutSeconds,
      failureThreshold: t.failureThreshold,
      // Kubernetes requires 1 for liveness and startup probes.
      successThreshold: 1,
    };
  }
}
