import { assertValidManifests, crossCheck, validateAgainstK8s128 } from './index';

// GIVEN a minimal valid Deployment + Service + PDB, each test breaks one thing and expects the exact error.
function deployment(): Record<string, any> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [{
            name: 'app',
            image: 'web:1.0',
            ports: [{ containerPort: 8080, name: 'http' }],
            readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 5 },
            livenessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 10 },
          }],
        },
      },
    },
  };
}
const service = () => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] } });
const pdb = (spec: Record<string, unknown>) => ({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'web' }, spec: { selector: { matchLabels: { app: 'web' } }, ...spec } });

describe('strict Kubernetes 1.28 schema validation', () => {
  test('accepts valid objects', () => {
    expect(() => assertValidManifests([deployment(), service(), pdb({ maxUnavailable: 1 })])).not.toThrow();
  });

  test('rejects a misspelled field', () => {
    const d = deployment();
    d.spec.template.spec.containers[0].readinesProbe = d.spec.template.spec.containers[0].readinessProbe;
    expect(validateAgainstK8s128(d)).toEqual([
      "Deployment/web.spec.template.spec.containers[0].readinesProbe: unknown field 'readinesProbe' (not in the Kubernetes 1.28 schema)",
    ]);
  });

  test('rejects a wrong type', () => {
    const d = deployment();
    d.spec.replicas = '3';
    expect(validateAgainstK8s128(d)).toEqual(['Deployment/web.spec.replicas: expected integer, got string "3"']);
  });

  test('rejects a missing required field', () => {
    const d = deployment();
    delete d.spec.template.spec.containers[0].image;
    delete d.spec.selector;
    expect(validateAgainstK8s128(d)).toEqual(["Deployment/web.spec: missing required field 'selector'"]);
    // image is optional in the API (a Pod template may take it from a controller), name is not
    delete d.spec.template.spec.containers[0].name;
    expect(validateAgainstK8s128(d)).toContain("Deployment/web.spec.template.spec.containers[0]: missing required field 'name'");
  });

  test('rejects a value outside an enum and a field of a later Kubernetes version', () => {
    expect(validateAgainstK8s128(pdb({ maxUnavailable: 1, unhealthyPodEvictionPolicy: 'Sometimes' })))
      .toEqual(['PodDisruptionBudget/web.spec.unhealthyPodEvictionPolicy: "Sometimes" is not one of ["IfHealthyBudget","AlwaysAllow"]']);
    const d = deployment();
    d.spec.template.spec.containers[0].lifecycle = { preStop: { sleep: { seconds: 5 } } }; // 1.29+
    expect(validateAgainstK8s128(d)).toEqual([
      "Deployment/web.spec.template.spec.containers[0].lifecycle.preStop.sleep: unknown field 'sleep' (not in the Kubernetes 1.28 schema)",
    ]);
  });

  test('rejects an unknown kind and duplicate list-map keys', () => {
    expect(validateAgainstK8s128({ apiVersion: 'policy/v1beta1', kind: 'PodSecurityPolicy', metadata: { name: 'x' } }))
      .toEqual(['PodSecurityPolicy/x: unknown apiVersion/kind policy/v1beta1/PodSecurityPolicy in Kubernetes 1.28']);
    const d = deployment();
    d.spec.template.spec.containers.push({ ...d.spec.template.spec.containers[0] });
    expect(validateAgainstK8s128(d)).toEqual(['Deployment/web.spec.template.spec.containers: duplicate name "app"']);
  });
});

describe('cross-object checks', () => {
  test('a Service whose targetPort is not a containerPort', () => {
    const s = service();
    s.spec.ports[0].targetPort = 'grpc';
    expect(crossCheck([deployment(), s])).toEqual(['Service/web: port 80 targets grpc, not a containerPort of Deployment/web']);
  });

  test('a Service or PDB that selects no pods', () => {
    const s = service();
    s.spec.selector = { app: 'wbe' };
    expect(crossCheck([deployment(), s, pdb({ maxUnavailable: 1, selector: { matchLabels: { app: 'other' } } })])).toEqual([
      'PodDisruptionBudget/web: selector must select the pods of exactly one workload, selects 0',
      'Service/web: selector {"app":"wbe"} selects no workload\'s pods',
    ]);
  });

  test('a PDB that blocks every drain', () => {
    expect(crossCheck([deployment(), pdb({ maxUnavailable: 0 })])).toEqual(['PodDisruptionBudget/web: allows 0 disruptions of 3 replicas: every drain would block']);
    expect(crossCheck([deployment(), pdb({ minAvailable: '100%' })])).toEqual(['PodDisruptionBudget/web: allows 0 disruptions of 3 replicas: every drain would block']);
  });

  test('a PDB that lets a drain break the quorum', () => {
    const d = deployment();
    d.kind = 'StatefulSet';
    d.metadata.annotations = { 'ha.cdk8s.io/quorum': '2' };
    expect(crossCheck([d, pdb({ maxUnavailable: 2 })])).toEqual(['PodDisruptionBudget/web: allows 2 disruptions of 3 members, leaving fewer than the quorum 2']);
    expect(crossCheck([d, pdb({ maxUnavailable: 1 })])).toEqual([]);
  });

  test('a probe on a port the container does not expose, and identical probes', () => {
    const d = deployment();
    const c = d.spec.template.spec.containers[0];
    c.readinessProbe = { tcpSocket: { port: 9090 } };
    c.livenessProbe = { tcpSocket: { port: 9090 } };
    expect(crossCheck([d])).toEqual([
      "Deployment/web: container 'app' readinessProbe uses port 9090, which is not a containerPort",
      "Deployment/web: container 'app' livenessProbe uses port 9090, which is not a containerPort",
      "Deployment/web: container 'app' readiness and liveness probes are identical (a slow dependency restarts every pod)",
    ]);
  });

  test('two objects with one kind, namespace and name', () => {
    expect(crossCheck([deployment(), service(), service()])).toEqual(['Service/web: two objects of this kind share the name in namespace default']);
  });

  test('an autoscaler fighting spec.replicas', () => {
    const hpa = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'web' }, spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, minReplicas: 2, maxReplicas: 5 } };
    expect(crossCheck([deployment(), hpa])).toEqual(['HorizontalPodAutoscaler/web: Deployment/web sets spec.replicas, which fights the autoscaler']);
  });
});
