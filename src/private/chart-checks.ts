// Checks that span constructs: run once per chart, at synthesis (node.addValidation), over everything in it.
import { ApiObject, Chart } from 'cdk8s';
import { IConstruct } from 'constructs';

const checkedCharts = new WeakSet<Chart>();

/**
 * Adds, once per chart, a validation that no two objects of one kind share a name in one namespace:
 * `kubectl apply` would keep only the last (a Service and a RaftCluster both named `kv`, say).
 */
export function checkUniqueNamesInChart(scope: IConstruct): void {
  const chart = Chart.of(scope);
  if (checkedCharts.has(chart)) return;
  checkedCharts.add(chart);
  chart.node.addValidation({ validate: () => duplicateNames(chart) });
}

function duplicateNames(chart: Chart): string[] {
  const seen = new Map<string, ApiObject>();
  const errors: string[] = [];
  for (const o of chart.node.findAll()) {
    if (!ApiObject.isApiObject(o)) continue;
    const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
    const key = `${group}/${o.kind}/${o.metadata.namespace ?? chart.namespace ?? ''}/${o.name}`;
    const first = seen.get(key);
    if (first) {
      errors.push(`${ownerOf(o)}: name (${JSON.stringify(o.name)}) of ${o.kind} is also used by ${first.node.path}; kubectl apply would keep only one of them; give the constructs different names`);
    } else {
      seen.set(key, o);
    }
  }
  return errors;
}

/** The nearest pattern construct, for a message the user recognises. */
function ownerOf(o: ApiObject): string {
  const scopes = o.node.scopes;
  const pattern = scopes.slice(1).find((s) => !ApiObject.isApiObject(s)) ?? o;
  return `${pattern.constructor.name} '${pattern.node.id}' (${o.node.path})`;
}
