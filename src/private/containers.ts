// Containers a user adds next to a pattern's own (sidecars, init containers): one set of checks and one hardening
// for every construct (internal).
import * as kplus from 'cdk8s-plus-28';
import { DEFAULT_RESOURCES, restrictedContainerSecurityContext } from './pod-hardening';
import { checkAbsolutePath, checkDns1123Label, checkEnvName, checkImage, checkPort, checkResources, checkUnique, fail } from './validate';

/** The added container with the pattern's hardening for whatever it leaves unset. */
export function hardenedContainer(c: kplus.ContainerProps, uid: number): kplus.ContainerProps {
  return {
    imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
    resources: DEFAULT_RESOURCES,
    ...c,
    securityContext: { ...restrictedContainerSecurityContext(uid, uid), ...c.securityContext },
  };
}

/**
 * Checks added containers, grouped by the prop that lists them (`sidecars`, `initContainers`): pinned images, DNS-1123
 * names unique with the pattern's own (`ownNames`), resources, ports, env names, mount paths, no privilege. Returns
 * the ports they declare (for a uniqueness check with the pattern's ports).
 */
export function checkAddedContainers(owner: string, lists: { [prop: string]: kplus.ContainerProps[] | undefined }, ownNames: string[]): number[] {
  const names = [...ownNames];
  const ports: number[] = [];
  for (const [prop, containers] of Object.entries(lists)) {
    (containers ?? []).forEach((c, i) => {
      const where = `${prop}[${i}]`;
      checkImage(owner, `${where}.image`, c.image);
      if (c.name === undefined) fail(owner, `${where}.name`, c.name, 'is required for an added container', "e.g. 'proxy'");
      checkDns1123Label(owner, `${where}.name`, c.name);
      names.push(c.name);
      if (c.resources) checkResources(owner, `${where}.resources`, c.resources);
      for (const p of c.ports ?? []) ports.push(checkPort(owner, `${where}.ports`, p.number));
      Object.keys(c.envVariables ?? {}).forEach((k) => checkEnvName(owner, `${where}.envVariables name`, k));
      (c.volumeMounts ?? []).forEach((m, j) => checkAbsolutePath(owner, `${where}.volumeMounts[${j}].path`, m.path));
      if (c.securityContext?.ensureNonRoot === false || c.securityContext?.privileged === true) {
        fail(owner, `${where}.securityContext`, 'privileged or root', 'breaks the restricted Pod Security Standard the pods run under', 'remove the override');
      }
    });
  }
  checkUnique(owner, 'container name', names);
  return ports;
}
