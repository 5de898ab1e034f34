import { k8s } from 'cdk8s-plus-28';
import { SpreadMode } from '../topology-spread';

const HOSTNAME = 'kubernetes.io/hostname';
const ZONE = 'topology.kubernetes.io/zone';

/**
 * Renders topologySpreadConstraints (cdk8s-plus-28 has no API for them) over nodes and zones.
 * `nodeTaintsPolicy: Honor` keeps tainted nodes (control planes, dedicated pools) out of the skew count, so
 * they cannot make a REQUIRED spread unsatisfiable. `matchLabelKeys` spreads each rollout revision on its own.
 */
export function renderTopologySpread(
  matchLabels: Record<string, string>,
  nodeSpread: SpreadMode,
  zoneSpread: SpreadMode,
  matchLabelKeys: string[],
): k8s.TopologySpreadConstraint[] {
  const out: k8s.TopologySpreadConstraint[] = [];
  for (const [topologyKey, mode] of [[HOSTNAME, nodeSpread], [ZONE, zoneSpread]] as const) {
    if (mode === SpreadMode.OFF) continue;
    out.push({
      maxSkew: 1,
      topologyKey,
      whenUnsatisfiable: mode,
      labelSelector: { matchLabels: { ...matchLabels } },
      matchLabelKeys: matchLabelKeys.length > 0 ? [...matchLabelKeys] : undefined,
      nodeTaintsPolicy: 'Honor',
    });
  }
  return out;
}
