import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { checkDns1123Subdomain, checkInt } from './private/validate';

/** Kind of the cert-manager issuer that signs the member certificates. */
export enum CertManagerIssuerKind {
  /** A namespaced `Issuer` (in the cluster's namespace). */
  ISSUER = 'Issuer',
  /** A cluster-wide `ClusterIssuer`. */
  CLUSTER_ISSUER = 'ClusterIssuer',
}

/** Options of `PeerTls.certManager`. */
export interface CertManagerPeerTlsOptions {
  /** Name of the cert-manager issuer (a CA issuer: every member must trust the same `ca.crt`). */
  readonly issuerName: string;
  /**
   * Kind of the issuer.
   * @default CertManagerIssuerKind.ISSUER
   */
  readonly issuerKind?: CertManagerIssuerKind;
  /**
   * Certificate lifetime in hours; cert-manager renews it when a third of it is left.
   * @default 2160 (90 days)
   */
  readonly durationHours?: number;
}

/**
 * How Raft members authenticate each other. Mutual TLS by default: a member accepts a peer connection only with
 * a certificate signed by the cluster's CA, so anyone who reaches the peer port cannot speak Raft to it.
 * Certificates come from a `kubernetes.io/tls` Secret you name (`tls.crt`, `tls.key`, `ca.crt`, one certificate
 * whose SANs cover `*.<name>-peers.<namespace>.svc`), or from a cert-manager `Certificate` the construct renders.
 * `PeerTls.plaintext()` is the explicit opt-out.
 */
export class PeerTls {
  /** Certificates from an existing Secret (`tls.crt`, `tls.key` and `ca.crt`), mounted read-only in every member. */
  public static fromSecret(secretName: string): PeerTls {
    checkDns1123Subdomain('PeerTls.fromSecret', 'secretName', secretName);
    return new PeerTls('secret', secretName, undefined);
  }

  /**
   * A cert-manager `Certificate` (cert-manager.io/v1) named `<cluster>-peer-tls`, signed by `issuerName`, valid
   * for server and client auth on every member's DNS name; its Secret is mounted read-only.
   */
  public static certManager(options: CertManagerPeerTlsOptions): PeerTls {
    checkDns1123Subdomain('PeerTls.certManager', 'issuerName', options.issuerName);
    checkInt('PeerTls.certManager', 'durationHours', options.durationHours ?? 2160, 24, 24 * 3650, 'e.g. 2160 (90 days)');
    return new PeerTls('cert-manager', undefined, options);
  }

  /**
   * No peer authentication: anyone who reaches a peer port can speak Raft to the members. Use only where a
   * NetworkPolicy-enforcing CNI and a trusted namespace stand in for it, or for local tests.
   */
  public static plaintext(): PeerTls {
    return new PeerTls('plaintext', undefined, undefined);
  }

  private constructor(
    private readonly mode: 'secret' | 'cert-manager' | 'plaintext',
    private readonly secretName: string | undefined,
    private readonly certManagerOptions: CertManagerPeerTlsOptions | undefined,
  ) {}

  /** Whether peers use TLS. */
  public get enabled(): boolean {
    return this.mode !== 'plaintext';
  }

  /**
   * Renders what the mode needs (the Certificate) and returns the Secret to mount, or undefined for plaintext.
   * @internal
   */
  public _bind(scope: Construct, owner: string, clusterName: string, peerServiceName: string, namespace: string | undefined): string | undefined {
    if (this.mode === 'plaintext') return undefined;
    if (this.mode === 'secret') return this.secretName;
    if (namespace === undefined) {
      // Members verify each other's DNS names, which contain the namespace: a guessed one would fail every handshake.
      throw new Error(`${owner}: peerTls (PeerTls.certManager) needs the namespace for the certificate's DNS names, but the chart has none; set it: new Chart(app, id, { namespace: 'kv' })`);
    }
    const o = this.certManagerOptions!;
    const secretName = `${clusterName}-peer-tls`;
    const hours = o.durationHours ?? 2160;
    const ns = namespace;
    new ApiObject(scope, 'peer-certificate', {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: secretName },
      spec: {
        secretName,
        issuerRef: { name: o.issuerName, kind: o.issuerKind ?? CertManagerIssuerKind.ISSUER, group: 'cert-manager.io' },
        commonName: `${clusterName}.${ns}.svc`,
        dnsNames: [`*.${peerServiceName}.${ns}.svc`, `*.${peerServiceName}.${ns}.svc.cluster.local`, `*.${peerServiceName}`],
        usages: ['server auth', 'client auth', 'digital signature', 'key encipherment'],
        duration: `${hours}h`,
        renewBefore: `${Math.floor(hours / 3)}h`,
        // A new key at every renewal: a leaked key stops working at the next rotation.
        privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      },
    });
    return secretName;
  }
}
