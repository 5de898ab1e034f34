/**
 * The dialling side of a discovery probe: a HELLO with sender and target id 0, answered by a
 * WELCOME carrying the peer's id and metadata (TcpTransportOptions.probeInfo), then closed. A member
 * that starts with a blank data directory probes its peers before it may bootstrap (membership/).
 */
import { decodeHandshake, encodeHandshakeFrame, FrameDecoder, FrameKind, PROTOCOL_VERSION } from './codec';
import { dialPeer, PeerTlsOptions, PROBE_ID } from './tcp-transport';
import { parseHostPort } from '../util/host-port';

/** What a probed peer said about itself. */
export interface ProbeAnswer {
  /** The peer's current node id. */
  readonly id: number;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Probes the transport listening at `address` (`host:port`). Resolves with its answer, or rejects
 * (refused, timed out, another cluster token) with an Error saying why.
 */
export function probePeer(address: string, clusterToken: string, timeoutMs: number, peerTls?: PeerTlsOptions): Promise<ProbeAnswer> {
  const { host, port } = parseHostPort(address, 'probePeer: address');
  return new Promise((resolve, reject) => {
    const socket = dialPeer(host, port, peerTls);
    const decoder = new FrameDecoder(64 * 1024);
    let settled = false;
    const finish = (err: Error | undefined, answer?: ProbeAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(new Error(`no probe answer from ${address} within ${timeoutMs} ms`)), timeoutMs);
    socket.on(peerTls ? 'secureConnect' : 'connect', () => {
      socket.write(encodeHandshakeFrame(FrameKind.HELLO, {
        version: PROTOCOL_VERSION, clusterId: clusterToken, senderId: PROBE_ID, targetId: PROBE_ID, metadata: {},
      }));
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of decoder.push(chunk)) {
          if (frame.kind === FrameKind.REJECT) return finish(new Error(`${address} refused the probe: ${frame.body.toString('utf8')}`));
          if (frame.kind !== FrameKind.WELCOME) return finish(new Error(`${address} answered the probe with frame kind ${frame.kind}`));
          const h = decodeHandshake(frame.body);
          return finish(undefined, { id: h.senderId, metadata: h.metadata });
        }
      } catch (e) {
        finish(new Error(`${address}: ${(e as Error).message}`));
      }
    });
    socket.on('error', (e) => finish(new Error(`${address}: ${e.message}`)));
    socket.on('close', () => finish(new Error(`${address} closed the connection without answering the probe`)));
  });
}
