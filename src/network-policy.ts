import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';

/**
 * A source of traffic a NetworkPolicy admits. Set `cidr` alone, or pod and/or namespace labels: Kubernetes
 * cannot combine an IP block with label selectors in one peer.
 */
export interface NetworkPeer {
  /**
   * Labels of the client pods (in the policy's namespace unless `namespaceLabels` is set).
   * @default - any pod (of the selected namespaces)
   */
  readonly podLabels?: { [key: string]: string };
  /**
   * Labels of the client namespaces.
   * @default - the policy's own namespace
   */
  readonly namespaceLabels?: { [key: string]: string };
  /**
   * An IP range (e.g. a load balancer's or an office's CIDR).
   * @default - no IP range
   */
  readonly cidr?: string;
}

/** One admitted port and who may reach it. */
export interface NetworkIngressRule {
  /** Container port (number) admitted. */
  readonly port: number;
  /**
   * Sources admitted on this port. An empty list is rejected: Kubernetes would read it as every source.
   * @default - every source, inside and outside the cluster (needed behind a LoadBalancer)
   */
  readonly from?: NetworkPeer[];
}

/** Props of `HaNetworkPolicy`. */
export interface HaNetworkPolicyProps {
  /** Labels that select the protected pods. */
  readonly matchLabels: { [key: string]: string };
  /** Admitted ports; every other ingress to the pods is denied. */
  readonly ingress: NetworkIngressRule[];
  /**
   * metadata.name of the NetworkPolicy.
   * @default - a unique generated name
   */
  readonly name?: string;
  /**
   * Name of the owning construct, used in error messages.
   * @default - the construct id
   */
  readonly ownerName?: string;
}

/**
 * An ingress `networking.k8s.io/v1` NetworkPolicy: the selected pods accept traffic only on the listed ports
 * from the listed peers. Egress is left open (a default-deny egress breaks DNS and is a namespace-wide choice).
 */
export class HaNetworkPolicy extends Construct {
  /** The rendered L1 object, for escape hatches. */
  public readonly apiObject: k8s.KubeNetworkPolicy;

  constructor(scope: Construct, id: string, props: HaNetworkPolicyProps) {
    super(scope, id);
    const owner = props.ownerName ?? id;
    const toPeer = (port: number, p: NetworkPeer, i: number): k8s.NetworkPolicyPeer => {
      // Named by port: each pattern calls its client list differently (allowedClients, shard.allowedClients).
      const where = `${owner}: clients of port ${port} (allowedClients), network peer #${i}`;
      const hasLabels = p.podLabels !== undefined || p.namespaceLabels !== undefined;
      if (p.cidr !== undefined && hasLabels) {
        throw new Error(`${where} sets cidr (${p.cidr}) and labels; Kubernetes cannot combine them, use two peers`);
      }
      if (p.cidr !== undefined) {
        if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(p.cidr)) throw new Error(`${where} cidr '${p.cidr}' is not a CIDR such as 10.0.0.0/8`);
        return { ipBlock: { cidr: p.cidr } };
      }
      if (!hasLabels) throw new Error(`${where} is empty; set podLabels, namespaceLabels or cidr (omit 'from' to admit everyone)`);
      return {
        podSelector: p.podLabels ? { matchLabels: { ...p.podLabels } } : undefined,
        namespaceSelector: p.namespaceLabels ? { matchLabels: { ...p.namespaceLabels } } : undefined,
      };
    };
    props.ingress.forEach((rule) => {
      // Kubernetes reads an empty `from` as "every source": the opposite of what an empty list looks like.
      if (rule.from !== undefined && rule.from.length === 0) {
        throw new Error(`${owner}: the clients of port ${rule.port} are an empty list, which a NetworkPolicy reads as every source; omit them to admit everyone on purpose, or list the peers (podLabels, namespaceLabels, cidr) to admit`);
      }
    });
    this.apiObject = new k8s.KubeNetworkPolicy(this, 'Resource', {
      metadata: props.name === undefined ? {} : { name: props.name },
      spec: {
        podSelector: { matchLabels: { ...props.matchLabels } },
        policyTypes: ['Ingress'],
        ingress: props.ingress.map((rule) => ({
          ports: [{ port: k8s.IntOrString.fromNumber(rule.port), protocol: 'TCP' }],
          from: rule.from?.map((peer, i) => toPeer(rule.port, peer, i)),
        })),
      },
    });
  }
}
