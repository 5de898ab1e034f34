/**
 * One LeaseKeepAlive stream. On the leader each request renews the lease in the leader's clock and is
 * answered with its TTL (TTL 0 when the lease does not exist, as etcd answers). On a follower the stream is
 * proxied to the leader over one gRPC stream, reopened when the leader changes.
 */
import { ClientDuplexStream } from '@grpc/grpc-js';
import { toMvccError } from './errors';
import { EtcdService } from './service';
import { MvccError } from '../../mvcc';

type Obj = Record<string, unknown>;

/** See the file comment. `sink` receives responses; `fail` ends the client's stream with an error. */
export class KeepAliveSession {
  private upstream: ClientDuplexStream<unknown, unknown> | undefined;
  private closed = false;

  constructor(
    private readonly service: EtcdService,
    private readonly sink: (resp: Obj) => void,
    private readonly fail: (e: MvccError) => void,
  ) {}

  /** Handles one LeaseKeepAliveRequest {ID}. */
  handle(req: Obj): void {
    if (this.closed) return;
    const id = Number(req.ID ?? 0);
    const b = this.service.backend;
    if (b.isLeader()) {
      this.closeUpstream();
      this.sink(this.renew(id));
      return;
    }
    try {
      this.proxy().write({ ID: id });
    } catch (e) {
      this.fail(toMvccError(e));
    }
  }

  close(): void {
    this.closed = true;
    this.closeUpstream();
  }

  private renew(id: number): Obj {
    const b = this.service.backend;
    try {
      const r = b.mvcc.leaseClock.renew(id, Date.now());
      // The replicated table still holds a partial TTL from a checkpoint: replace it, so a new leader
      // does not resume from the stale remainder.
      if (r.checkpointReset) {
        b.proposeMvcc({ op: 'lease_checkpoint', request: { checkpoints: [{ ID: id, remaining_TTL: 0 }] } }).catch(() => undefined);
      }
      return { header: this.service.header(), ID: id, TTL: r.TTL };
    } catch {
      return { header: this.service.header(), ID: id, TTL: 0 };
    }
  }

  private proxy(): ClientDuplexStream<unknown, unknown> {
    if (this.upstream) return this.upstream;
    const up = this.service.forwarder.keepAliveStream();
    up.on('data', (resp: Obj) => { if (!this.closed) this.sink(resp); });
    up.on('error', (e) => {
      if (this.upstream === up) this.upstream = undefined;
      // The leader went away: the next request opens a stream to the new one; clients retry a lost beat.
      if (!this.closed && this.service.backend.leaderClientUrl() === undefined) this.fail(toMvccError(e));
    });
    up.on('end', () => { if (this.upstream === up) this.upstream = undefined; });
    this.upstream = up;
    return up;
  }

  private closeUpstream(): void {
    const up = this.upstream;
    this.upstream = undefined;
    up?.end();
  }
}
