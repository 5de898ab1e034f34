// NetworkPolicy peers and rules: checked and rendered the same way for every construct (internal).
import { k8s } from 'cdk8s-plus-28';
import { checkCidr, checkLabels, checkPort, fail } from './validate';
import type { NetworkEgressRule, NetworkPeer } from '../network-policy';

/** Renders one peer after checking it; `where` names it in the user's props, e.g. `egress[0].to[1]`. */
export function toPeer(owner: string, where: string, p: NetworkPeer): k8s.NetworkPolicyPeer {
  const hasLabels = p.podLabels !== undefined || p.namespaceLabels !== undefined;
  if (p.cidr !== undefined && hasLabels) {
    throw new Error(`${owner}: ${where} sets cidr (${p.cidr}) and labels; Kubernetes cannot combine them, use two peers`);
  }
  if (p.cidr !== undefined) {
    checkCidr(owner, `${where} cidr`, p.cidr);
    return { ipBlock: { cidr: p.cidr } };
  }
  if (!hasLabels) throw new Error(`${owner}: ${where} is empty; set podLabels, namespaceLabels or cidr (omit the list to admit everyone)`);
  checkLabels(owner, `${where} podLabels`, p.podLabels);
  checkLabels(owner, `${where} namespaceLabels`, p.namespaceLabels);
  return {
    podSelector: p.podLabels ? { matchLabels: { ...p.podLabels } } : undefined,
    namespaceSelector: p.namespaceLabels ? { matchLabels: { ...p.namespaceLabels } } : undefined,
  };
}

/** Checks egress rules as the user wrote them (`prop` is their prop name, indexes are theirs). */
export function checkEgressRules(owner: string, prop: string, rules: NetworkEgressRule[] | undefined): void {
  (rules ?? []).forEach((rule, i) => {
    if (rule.port !== undefined) checkPort(owner, `${prop}[${i}].port`, rule.port);
    if (rule.to !== undefined && rule.to.length === 0) {
      fail(owner, `${prop}[${i}].to`, [], 'is an empty list, which a NetworkPolicy reads as every destination', 'omit it to admit every destination on purpose, or list the peers');
    }
    (rule.to ?? []).forEach((peer, j) => toPeer(owner, `${prop}[${i}].to[${j}]`, peer));
  });
}
