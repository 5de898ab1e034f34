/**
 * gRPC call counts under the names etcd 3.4 exports them (go-grpc-prometheus: `grpc_server_started_total`,
 * `grpc_server_handled_total` with `grpc_type`, `grpc_service`, `grpc_method`, `grpc_code`), so etcd's alerting rules
 * (failed gRPC requests) and dashboards read a member of this runtime unchanged; and `etcd_server_version`.
 */
import * as grpc from '@grpc/grpc-js';
import { ETCD_API_VERSION } from './service';
import { Counter, Labels, MetricsRegistry } from '../../observability/metrics';

/** Go's names of the gRPC status codes (codes.Code.String()), which `grpc_code` carries. */
const CODE_NAMES = ['OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists',
  'PermissionDenied', 'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal',
  'Unavailable', 'DataLoss', 'Unauthenticated'];

type Series = { inc(n?: number): void };

/** The counters of one method: started, and handled by status code. */
interface MethodSeries {
  readonly labels: Labels;
  readonly started: Series;
  readonly handled: Map<number, Series>;
}

/** Counts every call of the client port's gRPC server; lives as long as the server, registered with each member. */
export class GrpcMetrics {
  private readonly started = new Counter('grpc_server_started_total', 'Total number of RPCs started on the server.');
  private readonly handled = new Counter('grpc_server_handled_total', 'Total number of RPCs completed on the server, regardless of success or failure.');
  private readonly methods = new Map<string, MethodSeries>();

  /**
   * The server interceptor that counts each streaming call as it starts and as its status is sent. Unary calls are
   * counted by {@link instrument} instead: an intercepting call per unary call cost the leader about 8% more CPU per
   * put (docs/benchmarks.md), a wrapped callback nothing measurable.
   */
  readonly interceptor: grpc.ServerInterceptor = (method, call) => {
    if (!method.requestStream && !method.responseStream) return call as grpc.ServerInterceptingCall;
    const series = this.methodSeries(method);
    series.started.inc();
    return new grpc.ServerInterceptingCall(call, {
      sendStatus: (status, next) => {
        this.handledSeries(series, status.code ?? grpc.status.UNKNOWN).inc();
        next(status);
      },
    });
  };

  /** `impl` with each unary method's calls counted (streaming ones: {@link interceptor}). */
  instrument(service: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation): grpc.UntypedServiceImplementation {
    const out: grpc.UntypedServiceImplementation = { ...impl };
    for (const [name, method] of Object.entries(service)) {
      const handler = impl[name] as grpc.handleUnaryCall<unknown, unknown> | undefined;
      if (!handler || method.requestStream || method.responseStream) continue;
      const series = this.methodSeries(method);
      out[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        series.started.inc();
        handler(call, (err, ...rest) => {
          this.handledSeries(series, err ? (err.code ?? grpc.status.UNKNOWN) : grpc.status.OK).inc();
          callback(err, ...rest);
        });
      };
    }
    return out;
  }

  /** Renders these counters, and the etcd API version, with `registry`'s metrics. */
  register(registry: MetricsRegistry): void {
    registry.gaugeFamily('etcd_server_version', "Which version is running. 1 for 'server_version' label with current version.",
      () => [[{ server_version: ETCD_API_VERSION }, 1]]);
    registry.alias(this.started.name, this.started.help, this.started);
    registry.alias(this.handled.name, this.handled.help, this.handled);
  }

  private methodSeries(method: grpc.ServerMethodDefinition<unknown, unknown>): MethodSeries {
    let series = this.methods.get(method.path);
    if (!series) {
      const [service = '', name = ''] = method.path.replace(/^\//, '').split('/');
      const type = method.requestStream ? (method.responseStream ? 'bidi_stream' : 'client_stream') : (method.responseStream ? 'server_stream' : 'unary');
      const labels = { grpc_type: type, grpc_service: service, grpc_method: name };
      series = { labels, started: this.started.series(labels), handled: new Map() };
      this.methods.set(method.path, series);
    }
    return series;
  }

  private handledSeries(series: MethodSeries, code: number): Series {
    let s = series.handled.get(code);
    if (!s) {
      s = this.handled.series({ grpc_code: CODE_NAMES[code] ?? String(code), ...series.labels });
      series.handled.set(code, s);
    }
    return s;
  }
}
