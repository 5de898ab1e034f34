/**
 * The member's snapshot payload: the state machine's own snapshot bytes, untouched, wrapped with
 * the member registry (names and addresses of the members, removed ids), which the log before the
 * snapshot no longer holds. Layout: `HASMENV1`, u32 registry JSON length, registry JSON, state
 * machine bytes. Snapshots written before the envelope existed are bare state machine bytes.
 */
const MAGIC = Buffer.from('HASMENV1', 'latin1');

/** Wraps `stateMachine` bytes with the registry. */
export function wrapSnapshot(registry: unknown, stateMachine: Uint8Array): Uint8Array {
  const json = Buffer.from(JSON.stringify(registry), 'utf8');
  const out = Buffer.allocUnsafe(MAGIC.length + 4 + json.length + stateMachine.length);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(json.length, MAGIC.length);
  json.copy(out, MAGIC.length + 4);
  out.set(stateMachine, MAGIC.length + 4 + json.length);
  return out;
}

/** {@link wrapSnapshot} as parts: the envelope's head, then the state machine's parts as they come. */
export async function* envelopeParts(registry: unknown, stateMachine: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const json = Buffer.from(JSON.stringify(registry), 'utf8');
  const head = Buffer.allocUnsafe(MAGIC.length + 4);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(json.length, MAGIC.length);
  yield head;
  yield json;
  yield* stateMachine;
}

/** Splits a snapshot payload; `registry` is undefined for a bare (older) payload. */
export function unwrapSnapshot(data: Uint8Array): { registry: unknown; stateMachine: Uint8Array } {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < MAGIC.length + 4 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return { registry: undefined, stateMachine: data };
  const len = buf.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4;
  if (start + len > buf.length) throw new Error(`snapshot envelope: registry of ${len} bytes overruns a ${buf.length}-byte payload`);
  const registry: unknown = JSON.parse(buf.toString('utf8', start, start + len));
  return { registry, stateMachine: buf.subarray(start + len) };
}
