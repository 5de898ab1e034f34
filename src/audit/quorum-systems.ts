// Recognising quorum systems from their manifests alone, without the ha.cdk8s.io/quorum annotation (internal).
// docs/audit.md lists these heuristics; keep the two in step.
import type { Workload } from '../availability/workloads';
import { majorityQuorum } from '../private/quorum';

/** What the audit recognised a workload as, and why. */
export interface QuorumSystem {
  /** Human name, e.g. `etcd`, `Kafka KRaft controller`, `Raft store`. */
  readonly system: string;
  /** The manifest fact that gave it away, e.g. `image quay.io/coreos/etcd:v3.5.9`. */
  readonly evidence: string;
  /**
   * Members per consensus group when the system replicates each piece of data over a few members (ranges, regions,
   * queues), not over all of them: then at most floor((min(members, groupSize) - 1) / 2) members may be down at once.
   * Undefined: one group spanning every member (majority of all members).
   */
  readonly groupSize?: number;
}

/** Everything the heuristics read from one pod template, lower-cased once. */
interface PodFacts {
  /** Every container's image. */
  readonly images: string[];
  /** `command` and `args` tokens of every container, `--flag value` pairs left as given. */
  readonly tokens: string[];
  /** Environment variables (name -> value, plain `value`s only). */
  readonly env: Map<string, string>;
  readonly labels: Record<string, string>;
  /** Text of the ConfigMaps the pod mounts (their data values), when the audit saw them. */
  readonly config: string;
}

/** Last image path segment without tag or digest, lower-cased: `ghcr.io/x/etcd:v3` -> `etcd`. */
export function imageName(image: string): string {
  const noDigest = image.split('@')[0];
  const last = noDigest.split('/').pop() ?? '';
  return last.split(':')[0].toLowerCase();
}

function factsOf(w: Workload): PodFacts {
  const containers: any[] = Array.isArray(w.podSpec?.containers) ? w.podSpec.containers : [];
  const env = new Map<string, string>();
  for (const c of containers) {
    for (const e of Array.isArray(c.env) ? c.env : []) {
      if (typeof e?.name === 'string') env.set(e.name.toUpperCase(), typeof e.value === 'string' ? e.value : '');
    }
  }
  return {
    images: containers.map((c) => String(c.image ?? '')),
    tokens: containers.flatMap((c) => [...(c.command ?? []), ...(c.args ?? [])]).map((t) => String(t)),
    env,
    labels: w.podLabels ?? {},
    config: w.mountedConfig ?? '',
  };
}

/** The value of `--flag=v`, `--flag v`, `-flag=v` or `-flag v` in tokens (also inside `sh -c` strings), if present. */
export function flagValue(tokens: string[], flag: string): string | undefined {
  const re = new RegExp(`(?:^|\\s)--?${flag.replace(/[-_]/g, '[-_]')}(?:[=\\s]+("[^"]*"|'[^']*'|\\S+)|$|\\s)`, 'i');
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const m = re.exec(t);
    if (!m) continue;
    if (m[1] !== undefined) return m[1].replace(/^["']|["']$/g, '');
    // `--flag` alone as a token: its value is the next token, unless that is another flag
    if (t.trim().match(new RegExp(`^--?${flag.replace(/[-_]/g, '[-_]')}$`, 'i'))) {
      const next = tokens[i + 1];
      return next !== undefined && !next.startsWith('-') ? next : '';
    }
    return '';
  }
  return undefined;
}

function hasFlag(f: PodFacts, flag: string): boolean {
  return flagValue(f.tokens, flag) !== undefined;
}

/** Every text a setting may hide in: tokens, env values and mounted config. */
function allText(f: PodFacts): string {
  return [...f.tokens, ...[...f.env].map(([k, v]) => `${k}=${v}`), f.config].join('\n');
}

/** Labels naming a pod's role (not its application: `app: etcd` on a proxy says nothing about consensus). */
const COMPONENT_LABELS = ['app.kubernetes.io/component', 'component'];
/** Label values that name a consensus role. */
const CONSENSUS_LABEL_VALUES = new Set(['raft', 'consensus', 'quorum', 'etcd', 'zookeeper', 'consul-server']);

type Heuristic = (f: PodFacts) => QuorumSystem | undefined;

const byImage = (names: string[], system: string, groupSize?: number): Heuristic => (f) => {
  const image = f.images.find((i) => names.includes(imageName(i)));
  return image ? { system, evidence: `image ${image}`, groupSize } : undefined;
};

const imageWith = (names: string[], f: PodFacts): string | undefined => f.images.find((i) => names.includes(imageName(i)));

/** In order: the first that matches names the system. Specific products first, generic Raft signals last. */
const HEURISTICS: Heuristic[] = [
  byImage(['etcd'], 'etcd'),
  byImage(['zookeeper', 'cp-zookeeper'], 'ZooKeeper'),
  (f) => {
    const image = imageWith(['ha-runtime'], f);
    return image && f.tokens.includes('raft') ? { system: 'ha-runtime raft', evidence: `image ${image} with argument raft` } : undefined;
  },
  (f) => {
    // Consul servers only: clients (DaemonSets, or agents without -server) hold no Raft state
    const image = imageWith(['consul', 'consul-enterprise'], f);
    if (!image) return undefined;
    return hasFlag(f, 'server') || hasFlag(f, 'bootstrap-expect') || /"server"\s*[:=]\s*true|\bserver\s*=\s*true/.test(f.config)
      ? { system: 'Consul server', evidence: `image ${image} with -server` } : undefined;
  },
  (f) => {
    const image = imageWith(['vault', 'vault-enterprise'], f);
    if (!image) return undefined;
    const raft = /storage\s+"raft"|"storage"\s*:\s*\{\s*"raft"/.test(allText(f));
    return raft ? { system: 'Vault (raft storage)', evidence: `image ${image} with storage "raft"` } : undefined;
  },
  (f) => {
    const image = imageWith(['nats'], f);
    if (!image) return undefined;
    const js = hasFlag(f, 'jetstream') || hasFlag(f, 'js') || /\bjetstream\s*[{:]/i.test(f.config);
    // each stream is its own Raft group of up to 5 replicas (commonly 3); the meta group spans every server
    return js ? { system: 'NATS JetStream', evidence: `image ${image} with JetStream enabled`, groupSize: 3 } : undefined;
  },
  (f) => {
    // KRaft: process.roles includes controller, or the controller quorum voters are configured
    for (const [k, v] of f.env) {
      if (/^KAFKA_(CFG_)?PROCESS_ROLES$/.test(k) && /controller/i.test(v)) return { system: 'Kafka KRaft controller', evidence: `env ${k}=${v}` };
    }
    const text = allText(f);
    const m = /process\.roles\s*=\s*([\w,]*controller[\w,]*)/i.exec(text);
    if (m) return { system: 'Kafka KRaft controller', evidence: `process.roles=${m[1]}` };
    return undefined;
  },
  (f) => {
    const image = imageWith(['cockroach'], f);
    // every range is a Raft group of 3 replicas by default (num_replicas)
    return image ? { system: 'CockroachDB', evidence: `image ${image}`, groupSize: 3 } : undefined;
  },
  (f) => {
    const image = f.images.find((i) => /(^|\/)pingcap\/(tikv|pd)(:|@|$)/.test(i) || ['tikv', 'tikv-server', 'pd-server'].includes(imageName(i)));
    if (!image) return undefined;
    const pd = /pd(-server)?$/.test(imageName(image));
    // PD is one embedded-etcd group over every member; TiKV regions are Raft groups of 3 (max-replicas)
    return pd ? { system: 'TiDB PD', evidence: `image ${image}` } : { system: 'TiKV', evidence: `image ${image}`, groupSize: 3 };
  },
  (f) => {
    const image = imageWith(['rabbitmq'], f);
    if (!image) return undefined;
    const quorum = /default_queue_type\s*=\s*quorum|x-queue-type[^\n]*quorum|quorum_queue/i.exec(allText(f));
    // quorum queues are Raft groups of up to 3 replicas by default (quorum_queue.initial_cluster_size)
    return quorum ? { system: 'RabbitMQ quorum queues', evidence: `image ${image} with ${quorum[0]}`, groupSize: 3 } : undefined;
  },
  (f) => {
    const image = imageWith(['mongo', 'mongodb', 'mongodb-server', 'mongodb-community-server', 'mongodb-enterprise-server'], f);
    return image && hasFlag(f, 'replSet') ? { system: 'MongoDB replica set', evidence: `image ${image} with --replSet` } : undefined;
  },
  (f) => {
    const image = imageWith(['elasticsearch', 'opensearch'], f);
    if (!image) return undefined;
    const seeded = [...f.env.keys()].find((k) => /^CLUSTER[._]INITIAL_(MASTER|CLUSTER_MANAGER)_NODES$/.test(k))
      ?? /cluster\.initial_(master|cluster_manager)_nodes/.exec(allText(f))?.[0];
    return seeded ? { system: 'Elasticsearch master-eligible nodes', evidence: `image ${image} with ${seeded}` } : undefined;
  },
  // generic Raft/Paxos stores: flags every Raft bootstrap needs, then labels and image names
  (f) => {
    const flag = ['bootstrap-expect', 'initial-cluster', 'initial-cluster-state', 'raft-bootstrap', 'raft-join', 'raft-peers']
      .find((x) => hasFlag(f, x));
    if (flag) return { system: 'Raft store', evidence: `argument --${flag}` };
    const env = [...f.env.keys()].find((k) => /(^|_)(BOOTSTRAP_EXPECT|INITIAL_CLUSTER|RAFT_PEERS|RAFT_JOIN)$/.test(k));
    return env ? { system: 'Raft store', evidence: `env ${env}` } : undefined;
  },
  (f) => {
    for (const key of COMPONENT_LABELS) {
      const v = f.labels[key];
      if (typeof v === 'string' && CONSENSUS_LABEL_VALUES.has(v.toLowerCase())) return { system: 'Raft store', evidence: `label ${key}=${v}` };
    }
    return undefined;
  },
  (f) => {
    const image = f.images.find((i) => imageName(i).split(/[-_.]/).some((part) => ['raft', 'etcd', 'zookeeper', 'paxos'].includes(part)));
    return image ? { system: 'Raft store', evidence: `image ${image}` } : undefined;
  },
];

// Keyed by the Workload, which each audit run builds afresh: manifests edited between runs are read again.
const cache = new WeakMap<Workload, QuorumSystem | null>();

/**
 * Recognises a quorum system among the StatefulSets: members of a consensus group need a stable identity and
 * storage, so the audit looks at StatefulSets only (a Deployment of an etcd image is a proxy, a gateway or a
 * throw-away single member). Returns undefined when nothing matches. The quorum annotation is not read here.
 */
export function recogniseQuorumSystem(w: Workload): QuorumSystem | undefined {
  if (w.kind !== 'StatefulSet') return undefined;
  const hit = cache.get(w);
  if (hit !== undefined) return hit ?? undefined;
  const facts = factsOf(w);
  let found: QuorumSystem | undefined;
  for (const h of HEURISTICS) {
    found = h(facts);
    if (found) break;
  }
  cache.set(w, found ?? null);
  return found;
}

/** Members that must stay up: a majority of all members, or `members - floor((min(members, groupSize) - 1) / 2)`. */
export function membersRequired(system: QuorumSystem, members: number): number {
  if (system.groupSize === undefined) return majorityQuorum(members);
  const group = Math.min(members, system.groupSize);
  return members - Math.floor((group - 1) / 2);
}

const PEER_URL_FLAGS = ['listen-peer-urls', 'initial-advertise-peer-urls', 'initial-cluster'];

/** An http:// value of a peer-ish flag or variable (peer URLs, initial cluster, join addresses), if any. */
function httpPeerSetting(f: PodFacts): string | undefined {
  const flag = /(?:^|\s)(--?[\w-]*(?:peer|initial-cluster|join|raft)[\w-]*)[=\s]+["']?(\S*http:\/\/\S*)/i;
  for (const t of f.tokens) {
    const m = flag.exec(t);
    if (m) return `${m[1]}=${m[2]}`;
  }
  for (let i = 0; i + 1 < f.tokens.length; i++) {
    if (/^--?[\w-]*(peer|initial-cluster|join|raft)[\w-]*$/i.test(f.tokens[i]) && f.tokens[i + 1].includes('http://')) return `${f.tokens[i]} ${f.tokens[i + 1]}`;
  }
  for (const [k, v] of f.env) {
    if (/PEER|INITIAL_CLUSTER|JOIN|RAFT/.test(k) && v.includes('http://')) return `env ${k}=${v}`;
  }
  return undefined;
}

const envOrFlag = (f: PodFacts, flag: string, env: string) => hasFlag(f, flag) || f.env.has(env);

/** Kafka: the protocol the controller listener maps to, when the manifests show the map. */
function kafkaControllerProtocol(f: PodFacts): string | undefined {
  const setting = (env: string, key: string) => [...f.env].find(([k]) => new RegExp(`^KAFKA_(CFG_)?${env}$`).test(k))?.[1]
    ?? new RegExp(`${key.replace(/\./g, '\\.')}\\s*=\\s*(\\S+)`).exec(allText(f))?.[1];
  const map = setting('LISTENER_SECURITY_PROTOCOL_MAP', 'listener.security.protocol.map');
  if (!map) return undefined;
  const names = (setting('CONTROLLER_LISTENER_NAMES', 'controller.listener.names') ?? 'CONTROLLER').split(',');
  for (const entry of map.split(',')) {
    const [name, protocol] = entry.split(':');
    if (names.includes(name) && /^(SASL_)?PLAINTEXT$/i.test(protocol ?? '')) return `listener ${name} is ${protocol}`;
  }
  return undefined;
}

type PlaintextCheck = (f: PodFacts) => string | undefined;

/** Per system: the reason its peers talk in plaintext, or undefined when TLS is on or the manifests cannot tell. */
const PLAINTEXT_CHECKS: Record<string, PlaintextCheck> = {
  'etcd': (f) => {
    for (const flag of PEER_URL_FLAGS) {
      const v = flagValue(f.tokens, flag) ?? f.env.get(`ETCD_${flag.toUpperCase().replace(/-/g, '_')}`);
      if (v && v.includes('http://')) return `--${flag} ${v} is http://`;
    }
    if (envOrFlag(f, 'peer-cert-file', 'ETCD_PEER_CERT_FILE') || envOrFlag(f, 'peer-auto-tls', 'ETCD_PEER_AUTO_TLS')) return undefined;
    return 'no --peer-cert-file (etcd peers default to http://)';
  },
  'ha-runtime raft': (f) => {
    const tls = f.tokens.some((t) => /--peer[-_](cert|key|tls|ca)/i.test(t)) || [...f.env.keys()].some((k) => /^HA_RAFT_PEER_(CERT|KEY|TLS|CA)/.test(k));
    return tls ? undefined : 'no peer TLS setting (--peer-cert-file / HA_RAFT_PEER_CERT_FILE)';
  },
  'CockroachDB': (f) => (hasFlag(f, 'insecure') ? 'started with --insecure' : undefined),
  'ZooKeeper': (f) => (/sslQuorum\s*=\s*true/i.test(allText(f)) ? undefined : 'sslQuorum is not true (quorum traffic is plaintext by default)'),
  'Kafka KRaft controller': kafkaControllerProtocol,
  'RabbitMQ quorum queues': (f) => (/inet_tls/.test(allText(f)) ? undefined : 'inter-node traffic without -proto_dist inet_tls'),
  'MongoDB replica set': (f) => {
    const mode = flagValue(f.tokens, 'tlsMode') ?? flagValue(f.tokens, 'sslMode') ?? /(?:tls|ssl)\.?mode\s*[:=]\s*(\w+)/i.exec(f.config)?.[1];
    return mode && /^(require|prefer)(TLS|SSL)$/i.test(mode) ? undefined : `tlsMode is ${mode ?? 'unset (disabled)'}`;
  },
  'TiDB PD': (f) => httpPeerSetting(f) ?? (hasFlag(f, 'cacert') || /cacert-path|ca-path/.test(f.config) ? undefined : 'no --cacert'),
  'TiKV': (f) => (hasFlag(f, 'ca-path') || hasFlag(f, 'cacert') || /ca-path/.test(f.config) ? undefined : 'no --ca-path'),
  'Consul server': (f) => (/verify_incoming|verify_outgoing|\btls\s*\{|ca_file|cert_file|CONSUL_.*(TLS|CACERT)|-encrypt\b|\bencrypt\s*=/i.test(allText(f))
    ? undefined : 'no TLS (verify_incoming, tls {}) or gossip encryption configured'),
  'NATS JetStream': (f) => {
    const clustered = /\bcluster\s*\{/.test(f.config) || hasFlag(f, 'cluster') || hasFlag(f, 'routes');
    return clustered && !/\btls\s*\{/.test(f.config) && !hasFlag(f, 'tls') ? 'cluster routes without a tls block' : undefined;
  },
  'Elasticsearch master-eligible nodes': (f) => /xpack\.security\.(enabled|transport\.ssl\.enabled)\s*=\s*false|XPACK_SECURITY_(ENABLED|TRANSPORT_SSL_ENABLED)=false/i.exec(allText(f))?.[0],
  'Raft store': httpPeerSetting,
};

/**
 * Why a recognised quorum system's peers talk in plaintext, or undefined when they use TLS or the manifests do not
 * say (Vault's cluster port is always mutual TLS; a generic Raft store is judged only by http:// peer addresses).
 */
export function plaintextPeers(w: Workload, system: QuorumSystem): string | undefined {
  const check = PLAINTEXT_CHECKS[system.system];
  return check ? check(factsOf(w)) : undefined;
}
