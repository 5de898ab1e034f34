/**
 * The workload's operations over etcd's v3 gRPC API (KV.Range, KV.Put, KV.DeleteRange, KV.Txn), with grpc-js and
 * our wire definitions, one channel per member and no client-side retries: a retried write could apply twice and
 * hide a real anomaly from the checker. Any failed write is `info` (etcd's codes do not say whether a proposal
 * that timed out or lost its leader applied); a failed read is `fail`; a refused compare is `fail`.
 */
import * as grpc from '@grpc/grpc-js';
import type { OpResult, WorkloadOps } from './kv-workload';
import { etcdPackageDefinition } from '../../src/api/etcd/proto';

type Unary = (request: unknown, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, response: any) => void) => void;
type KvClient = grpc.Client & { Range: Unary; Put: Unary; DeleteRange: Unary; Txn: Unary };

// etcd's Compare enums (rpc.proto): result EQUAL = 0; target CREATE = 1, VALUE = 3.
const EQUAL = 0;
const CREATE = 1;
const VALUE = 3;

/** Workload ops against members' client endpoints given as `host:port`. */
export function etcdGrpcOps(timeoutMs: number): WorkloadOps {
  const services = grpc.loadPackageDefinition(etcdPackageDefinition()).etcdserverpb as grpc.GrpcObject;
  const KV = services.KV as grpc.ServiceClientConstructor;
  const clients = new Map<string, KvClient>();
  const client = (base: string): KvClient => {
    let c = clients.get(base);
    if (!c) {
      c = new KV(base, grpc.credentials.createInsecure(), { 'grpc.enable_retries': 0 }) as unknown as KvClient;
      clients.set(base, c);
    }
    return c;
  };
  type Method = 'Range' | 'Put' | 'DeleteRange' | 'Txn';
  const call = (base: string, method: Method, request: unknown): Promise<any> =>
    new Promise((resolve, reject) => {
      client(base)[method](request, { deadline: Date.now() + timeoutMs }, (err, resp) => (err ? reject(err) : resolve(resp)));
    });
  const write = async (base: string, method: 'Put' | 'DeleteRange', request: unknown): Promise<OpResult> => {
    try { await call(base, method, request); return { outcome: 'ok' }; } catch { return { outcome: 'info' }; }
  };
  const key = (k: string): Buffer => Buffer.from(k);
  return {
    async get(base, k) {
      try {
        const resp = await call(base, 'Range', { key: key(k) });
        return { outcome: 'ok', value: resp.kvs.length ? Buffer.from(resp.kvs[0].value).toString() : null };
      } catch { return { outcome: 'fail' }; }
    },
    put: (base, k, value) => write(base, 'Put', { key: key(k), value: Buffer.from(value) }),
    delete: (base, k) => write(base, 'DeleteRange', { key: key(k) }),
    async cas(base, k, expected, next) {
      const compare = expected === null
        ? { result: EQUAL, target: CREATE, key: key(k), create_revision: '0' }
        : { result: EQUAL, target: VALUE, key: key(k), value: Buffer.from(expected) };
      try {
        const resp = await call(base, 'Txn', { compare: [compare], success: [{ request_put: { key: key(k), value: Buffer.from(next) } }] });
        return { outcome: resp.succeeded ? 'ok' : 'fail' };
      } catch { return { outcome: 'info' }; }
    },
    close: () => { for (const c of clients.values()) c.close(); },
  };
}
