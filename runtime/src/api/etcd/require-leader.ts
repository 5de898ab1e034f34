/**
 * etcd's require-leader calls. A client that wraps its context in `clientv3.WithRequireLeader` (etcdctl watch, the
 * Kubernetes API server's watches) sends the metadata `hasleader: true`: such a call is refused with
 * `UNAVAILABLE "etcdserver: no leader"` while the member knows no leader, and such a stream is ended with that
 * status once the member has had no leader for three checks an election timeout apart (etcd's monitorLeader). So a
 * watcher on a member cut off from the quorum learns it and moves to another member, instead of waiting on a member
 * that can see no new writes.
 */
import * as grpc from '@grpc/grpc-js';

const REQUIRE_LEADER_KEY = 'hasleader';
const HAS_LEADER = 'true';
/** etcd's maxNoLeaderCnt: checks without a leader before require-leader streams are ended. */
const NO_LEADER_CHECKS = 3;

/** Whether the call asked for a leader (etcd's rpctypes.MetadataRequireLeaderKey). */
export function requiresLeader(metadata: grpc.Metadata): boolean {
  return metadata.get(REQUIRE_LEADER_KEY)[0] === HAS_LEADER;
}

/** Tracks the open require-leader streams and ends them when the member stays without a leader. */
export class LeaderMonitor {
  private readonly streams = new Set<() => void>();
  private checksWithoutLeader = 0;

  /** `checkMs`: the election timeout (etcd checks once per election timeout). The check lives as long as the process. */
  constructor(private readonly hasLeader: () => boolean, checkMs: number) {
    setInterval(() => this.check(), checkMs).unref();
  }

  /** Whether a require-leader call may start now. */
  get leaderKnown(): boolean { return this.hasLeader(); }

  /** Ends the stream with `end` if the member stays without a leader; returns the function that stops tracking it. */
  track(end: () => void): () => void {
    this.streams.add(end);
    return () => { this.streams.delete(end); };
  }

  private check(): void {
    if (this.streams.size === 0 || this.hasLeader()) {
      this.checksWithoutLeader = 0;
      return;
    }
    if (++this.checksWithoutLeader < NO_LEADER_CHECKS) return;
    this.checksWithoutLeader = 0;
    const ending = [...this.streams];
    this.streams.clear();
    for (const end of ending) end();
  }
}

const STREAM_END_EVENTS = ['cancelled', 'error', 'finish', 'close'];

/**
 * `impl` with every method honouring require-leader calls: a unary call or a new stream is refused with
 * `noLeader()` while no leader is known; an open stream is ended with it by `monitor`.
 */
export function guardService(service: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation, monitor: LeaderMonitor,
  noLeader: () => Partial<grpc.StatusObject> & Error): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = { ...impl };
  for (const [name, method] of Object.entries(service)) {
    const handler = impl[name];
    if (!handler) continue;
    if (!method.requestStream && !method.responseStream) {
      const unary = handler as grpc.handleUnaryCall<unknown, unknown>;
      out[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        if (requiresLeader(call.metadata) && !monitor.leaderKnown) callback(noLeader());
        else unary(call, callback);
      };
      continue;
    }
    // A client-streaming handler also takes a callback: whatever comes after the call is passed on as it came.
    const stream = handler as (call: grpc.ServerWritableStream<unknown, unknown>, ...rest: unknown[]) => void;
    out[name] = (call: grpc.ServerWritableStream<unknown, unknown>, ...rest: unknown[]) => {
      if (requiresLeader(call.metadata)) {
        if (!monitor.leaderKnown) { call.emit('error', noLeader()); return; }
        const untrack = monitor.track(() => { if (!call.cancelled) call.emit('error', noLeader()); });
        for (const event of STREAM_END_EVENTS) call.once(event, untrack);
      }
      stream(call, ...rest);
    };
  }
  return out;
}
