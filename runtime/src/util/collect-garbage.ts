/**
 * One full garbage collection, now. Used once after a member restored a large snapshot: the snapshot's bytes (hundreds
 * of MB at a million keys) are garbage then, but V8 frees them only at its next full collection, which may come much
 * later, so the restart would stay the member's memory peak (and the point where a container limit kills it).
 */
import { setFlagsFromString } from 'v8';
import { runInNewContext } from 'vm';

let gc: (() => void) | undefined;

export function collectGarbage(): void {
  if (!gc) {
    // --expose-gc set at run time makes `gc` available to contexts created afterwards.
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}
