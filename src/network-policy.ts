import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { checkEgressRules, toPeer } from './private/network';

/** Transport protocol of a NetworkPolicy port. */
export enum NetworkProtocol {
  /** TCP. */
  TCP = 'TCP',
  /** UDP. */
  UDP = 'UDP',
}

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

/** One destination the pods may reach. */
export interface NetworkEgressRule {
  /**
   * Destination port.
   * @default - every port
   */
  readonly port?: number;
  /**
   * Protocol of `port`.
   * @default NetworkProtocol.TCP
   */
  readonly protocol?: NetworkProtocol;
  /**
   * Destinations admitted. An empty list is rejected: Kubernetes would read it as every destination.
   * @default - every destination
   */
  readonly to?: NetworkPeer[];
}

/** DNS (port 53, UDP and TCP) to any destination: what every pod needs once egress is restricted. */
export const DNS_EGRESS_RULES: NetworkEgressRule[] = [
  { port: 53, protocol: NetworkProtocol.UDP },
  { port: 53, protocol: NetworkProtocol.TCP },
];

/** Props of `HaNetworkPolicy`. */
export interface HaNetworkPolicyProps {
  /** Labels that select the protected pods. */
  readonly matchLabels: { [key: string]: string };
  /** Admitted ports; every other ingress to the pods is denied. */
  readonly ingress: NetworkIngressRule[];
  /**
   * Admitted destinations; when set, every other egress of the pods is denied (include DNS: `DNS_EGRESS_RULES`).
   * @default - egress is not restricted by this policy
   */
  readonly egress?: NetworkEgressRule[];
  /**
   * Name of the prop that lists the clients, used in error messages.
   * @default 'allowedClients'
   */
  readonly clientsPropName?: string;
  /**
   * Name of the prop that lists the egress rules, used in error messages.
   * @default 'egress'
   */
  readonly egressPropName?: string;
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
 * A `networking.k8s.io/v1` NetworkPolicy: the selected pods accept traffic only on the listed ports from the
 * listed peers, and, when `egress` is set, reach only the listed destinations. Without `egress` the policy
 * leaves egress open (a default-deny egress breaks DNS unless it is listed).
 */
export class HaNetworkPolicy extends Construct {
  /** The rendered L1 object, for escape hatches. */
  public readonly apiObject: k8s.KubeNetworkPolicy;

  constructor(scope: Construct, id: string, props: HaNetworkPolicyProps) {
    super(scope, id);
    const owner = props.ownerName ?? id;
    const clients = props.clientsPropName ?? 'allowedClients';
    const egressProp = props.egressPropName ?? 'egress';
    props.ingress.forEach((rule) => {
      // Kubernetes reads an empty `from` as "every source": the opposite of what an empty list looks like.
      if (rule.from !== undefined && rule.from.length === 0) {
        throw new Error(`${owner}: the clients of port ${rule.port} are an empty list, which a NetworkPolicy reads as every source; omit them to admit everyone on purpose, or list the peers (podLabels, namespaceLabels, cidr) to admit`);
      }
    });
    checkEgressRules(owner, egressProp, props.egress);
    const ingress = props.ingress.map((rule): k8s.NetworkPolicyIngressRule => ({
      ports: [{ port: k8s.IntOrString.fromNumber(rule.port), protocol: 'TCP' }],
      // Named by port: each pattern calls its client list differently (allowedClients, shard.allowedClients).
      from: rule.from?.map((peer, i) => toPeer(owner, `${clients} of port ${rule.port}, network peer #${i}`, peer)),
    }));
    const egress = props.egress?.map((rule, i): k8s.NetworkPolicyEgressRule => ({
      ports: rule.port === undefined ? undefined : [{ port: k8s.IntOrString.fromNumber(rule.port), protocol: rule.protocol ?? NetworkProtocol.TCP }],
      to: rule.to?.map((peer, j) => toPeer(owner, `${egressProp}[${i}].to[${j}]`, peer)),
    }));
    this.apiObject = new k8s.KubeNetworkPolicy(this, 'Resource', {
      metadata: props.name === undefined ? {} : { name: props.name },
      spec: {
        podSelector: { matchLabels: { ...props.matchLabels } },
        policyTypes: egress ? ['Ingress', 'Egress'] : ['Ingress'],
        ingress,
        egress,
      },
    });
  }
}
