import { k8s } from 'cdk8s-plus-28';

/**
 * What delays SIGTERM so that endpoints, kube-proxy and load balancers stop sending traffic to a
 * terminating pod first. Kubernetes 1.28 has no built-in `sleep` lifecycle action (1.29+, behind a feature
 * gate until 1.30), so the delay is either a `sleep` binary in the image or an endpoint the server delays in.
 */
export class PreStopHook {
  /**
   * Runs `sleep <seconds>` in the container. Needs a `sleep` executable in the image (busybox, debian, alpine;
   * not distroless or `FROM scratch` images: use `httpGet` or `none` there).
   */
  public static sleep(seconds: number): PreStopHook {
    return new PreStopHook(seconds, { exec: { command: ['sleep', String(seconds)] } }, undefined);
  }

  /**
   * Calls an HTTP endpoint that the server answers after it has stopped being ready and waited `seconds`
   * (the kubelet waits for the answer). For images without a shell.
   */
  public static httpGet(path: string, seconds: number, port?: number): PreStopHook {
    if (!path.startsWith('/')) throw new Error(`PreStopHook.httpGet: path '${path}' must start with '/'`);
    if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
      throw new Error(`PreStopHook.httpGet: port (${port}) must be an integer in 1..65535; omit it to use the container port`);
    }
    return new PreStopHook(seconds, { httpGet: { path, scheme: 'HTTP', port: k8s.IntOrString.fromNumber(0) } }, port);
  }

  /** No hook: the server itself must keep serving for a few seconds after SIGTERM while endpoints drain. */
  public static none(): PreStopHook {
    return new PreStopHook(0, undefined, undefined);
  }

  private constructor(
    /** Seconds the hook delays SIGTERM (checked against terminationGracePeriodSeconds). */
    public readonly delaySeconds: number,
    private readonly handler: k8s.LifecycleHandler | undefined,
    private readonly port: number | undefined,
  ) {
    if (!Number.isInteger(delaySeconds) || delaySeconds < 0) {
      throw new Error(`PreStopHook: delay (${delaySeconds}) must be a non-negative integer of seconds`);
    }
  }

  /**
   * Renders the typed `lifecycle.preStop` handler, or undefined for `none()`.
   * @internal
   */
  public _render(defaultPort: number): k8s.LifecycleHandler | undefined {
    if (!this.handler) return undefined;
    if (this.handler.httpGet) {
      return { httpGet: { ...this.handler.httpGet, port: k8s.IntOrString.fromNumber(this.port ?? defaultPort) } };
    }
    return this.handler;
  }
}
