/**
 * gRPC's standard health service (grpc.health.v1), which etcd 3.4 registers on its client port: Kubernetes' `grpc`
 * probes, grpc_health_probe and client-side health checking ask it. The server's overall status (service "") is
 * SERVING while the member is live (what /livez says) and NOT_SERVING once its storage failed; etcd answers SERVING
 * as long as its process runs. Any other service name is unknown, as in grpc-go's health server.
 */
import * as grpc from '@grpc/grpc-js';

/** grpc.health.v1.HealthCheckResponse.ServingStatus. */
enum ServingStatus { SERVING = 1, NOT_SERVING = 2, SERVICE_UNKNOWN = 3 }

/** How often a Watch re-reads the status to send a change. */
const WATCH_POLL_MS = 1000;

type Request = { service?: string };
type Response = { status: ServingStatus };

/** The Health service's implementation over `live` (the member's liveness). */
export function healthService(live: () => boolean): grpc.UntypedServiceImplementation {
  const statusOf = (service: string | undefined): ServingStatus => {
    if (service) return ServingStatus.SERVICE_UNKNOWN;
    return live() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  };
  return {
    Check: (call: grpc.ServerUnaryCall<Request, Response>, done: grpc.sendUnaryData<Response>) => {
      const status = statusOf(call.request.service);
      if (status === ServingStatus.SERVICE_UNKNOWN) done({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
      else done(null, { status });
    },
    // The current status at once, then each change, until the client cancels.
    Watch: (call: grpc.ServerWritableStream<Request, Response>) => {
      let last = statusOf(call.request.service);
      call.write({ status: last });
      const timer = setInterval(() => {
        const now = statusOf(call.request.service);
        if (now !== last) call.write({ status: (last = now) });
      }, WATCH_POLL_MS);
      const stop = (): void => clearInterval(timer);
      call.on('cancelled', stop);
      call.on('close', stop);
      call.on('error', stop);
    },
  };
}
