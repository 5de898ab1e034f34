import { Testing } from 'cdk8s';
import { assertValidManifests } from './util';
import { buildChart as myService } from '../examples/my-service/main';

// One snapshot per example; built in memory, so snapshots depend on neither the outdir nor the clock.
describe.each([
  ['my-service', myService],
])('examples/%s', (_name, build) => {
  const objects = Testing.synth(build(Testing.app()));

  test('passes strict 1.28 schema validation and the cross-object checks', () => {
    assertValidManifests(objects);
  });

  test('matches its snapshot', () => {
    expect(objects).toMatchSnapshot();
  });
});
