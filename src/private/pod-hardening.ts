// Shared by every pattern: the restricted Pod Security Standard, plus defaults a senior SRE expects.
import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';

/** uid/gid of the distroless "nonroot" user: above 10000, so it never collides with a host user. */
export const DEFAULT_NON_ROOT_ID = 65532;

/** Container security context of the `restricted` Pod Security Standard, with a read-only root filesystem. */
export function restrictedContainerSecurityContext(user: number, group: number): kplus.ContainerSecurityContextProps {
  return {
    ensureNonRoot: true,
    user,
    group,
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: [kplus.Capability.ALL] },
    seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT },
  };
}

/**
 * Requests so the scheduler places pods honestly, a memory limit so a leak kills one pod and not its node,
 * an ephemeral-storage request and limit (logs and emptyDir: a runaway writer is evicted alone instead of
 * putting its node under disk pressure), and no CPU limit: CFS throttling adds tail latency while idle cores
 * exist (the request already guarantees the share).
 */
export const DEFAULT_RESOURCES: kplus.ContainerResources = {
  cpu: { request: kplus.Cpu.millis(100) },
  memory: { request: Size.mebibytes(128), limit: Size.mebibytes(256) },
  ephemeralStorage: { request: Size.gibibytes(1), limit: Size.gibibytes(2) },
};

/** The same restricted container security context, typed for L1 (`k8s.*`) objects. */
export function restrictedContainerSecurityContextL1(user: number, group: number): k8s.SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: user,
    runAsGroup: group,
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Converts cdk8s-plus resources to the L1 `ResourceRequirements`. */
export function resourcesToL1(r: kplus.ContainerResources): k8s.ResourceRequirements {
  const requests: Record<string, k8s.Quantity> = {};
  const limits: Record<string, k8s.Quantity> = {};
  if (r.cpu?.request) requests.cpu = k8s.Quantity.fromString(r.cpu.request.amount);
  if (r.cpu?.limit) limits.cpu = k8s.Quantity.fromString(r.cpu.limit.amount);
  if (r.memory?.request) requests.memory = k8s.Quantity.fromString(`${r.memory.request.toMebibytes()}Mi`);
  if (r.memory?.limit) limits.memory = k8s.Quantity.fromString(`${r.memory.limit.toMebibytes()}Mi`);
  // Whole gibibytes, as cdk8s-plus renders them for Deployments.
  if (r.ephemeralStorage?.request) requests['ephemeral-storage'] = k8s.Quantity.fromString(`${r.ephemeralStorage.request.toGibibytes()}Gi`);
  if (r.ephemeralStorage?.limit) limits['ephemeral-storage'] = k8s.Quantity.fromString(`${r.ephemeralStorage.limit.toGibibytes()}Gi`);
  return { requests, limits: Object.keys(limits).length > 0 ? limits : undefined };
}

/** A user's map copied into a plain object: cdk8s cannot serialize objects without a prototype. */
export function plain(map: { [key: string]: string } | undefined): { [key: string]: string } | undefined {
  return map === undefined ? undefined : { ...map };
}
