/**
 * The binary wire format of a Raft Message (no JSON or base64: entry data travels as raw bytes).
 * Layout documented in docs/storage.md ("Peer wire format").
 */
import type { Message } from '../raft/types';

/** Encodes `message` into a new buffer (without the frame length prefix). */
export function encodeMessage(message: Message): Buffer {
  void message;
  throw new Error('not implemented yet');
}

/** Decodes a buffer produced by `encodeMessage`; throws a RangeError naming the problem on bad input. */
export function decodeMessage(bytes: Uint8Array): Message {
  void bytes;
  throw new Error('not implemented yet');
}
