// The microservice-tutorial manifest (Deployment `my-service`, 3 replicas of my-service:1.0 on 8080, a
// LoadBalancer Service 80 -> 8080), done right: one construct.
import { App, Chart } from 'cdk8s';
import { HaProbe, HighlyAvailableService } from '../../src';

/** Builds the example chart into `app` (the snapshot test calls this without synthesizing to disk). */
export function buildChart(app: App): Chart {
  const chart = new Chart(app, 'my-service', { namespace: 'my-service' });
  new HighlyAvailableService(chart, 'my-service', {
    name: 'my-service',
    image: 'my-service:1.0',
    containerPort: 8080,
    servicePort: 80,
    replicas: 3,
    readiness: HaProbe.http('/ready'),
    liveness: HaProbe.http('/healthz'),
    startup: HaProbe.http('/healthz'),
  });
  return chart;
}

if (require.main === module || process.env.CDK8S_OUTDIR) {
  const app = new App({ outdir: process.env.CDK8S_OUTDIR ?? 'dist/examples/my-service' });
  buildChart(app);
  app.synth();
}
