// What a RaftRuntime needs to know about its cluster, and what it renders for each member (internal).
import { k8s } from 'cdk8s-plus-28';
import { HaProbe } from '../probes';

/** Where a member finds its peer (and client) certificates, when TLS is on. */
export interface MountedTls {
  /** Certificate (PEM), e.g. /etc/raft/peer-tls/tls.crt. */
  readonly certFile: string;
  /** Private key (PEM). */
  readonly keyFile: string;
  /** CA bundle that signs every member's certificate. */
  readonly trustedCaFile: string;
}

/** The cluster a runtime renders a member for. */
export interface RaftRuntimeContext {
  /** Error prefix, e.g. `RaftCluster 'kv'`. */
  readonly owner: string;
  /** StatefulSet name (also the cluster token). */
  readonly name: string;
  /** Member (pod) names in ordinal order. */
  readonly memberNames: string[];
  /** The headless peer Service. */
  readonly peerServiceName: string;
  /** Member volume mount path. */
  readonly dataDir: string;
  readonly clientPort: number;
  readonly peerPort: number;
  /** Peer TLS files, undefined for plaintext peers. */
  readonly peerTls?: MountedTls;
  /** The mounted file holding the desired member count (from the `<name>-members` ConfigMap). */
  readonly desiredMembersFile: string;
  /** The member container's memory limit in bytes, when it has one. */
  readonly memoryLimitBytes?: number;
}

/** A container port a runtime adds (etcd's metrics port). */
export interface RuntimePort {
  readonly name: string;
  readonly port: number;
}

/** What a runtime renders into the member container. */
export interface RenderedRuntime {
  readonly command?: string[];
  readonly args: string[];
  /** Variables after HA_RAFT_ID and POD_NAMESPACE (which every runtime gets, declared first). */
  readonly env: k8s.EnvVar[];
  readonly readiness: HaProbe;
  readonly liveness: HaProbe;
  readonly startup: HaProbe;
  /** Extra container ports (probes may use them). */
  readonly ports: RuntimePort[];
  /** Extra ports members must reach on each other (egress between peers). */
  readonly peerEgressPorts: number[];
  /** True when the runtime reads `desiredMembersFile`: the cluster then renders and mounts the ConfigMap. */
  readonly readsDesiredMembers: boolean;
}

/** Kubelet `$(VAR)` references every runtime may use; declared first in env, in this order. */
export const MEMBER_ID = '$(HA_RAFT_ID)';
export const MEMBER_NAMESPACE = '$(POD_NAMESPACE)';

/** The member's own DNS name: `<pod>.<peers>.<namespace>.svc`. */
export function memberHost(ctx: RaftRuntimeContext, member: string): string {
  return `${member}.${ctx.peerServiceName}.${MEMBER_NAMESPACE}.svc`;
}
