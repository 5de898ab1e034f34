/**
 * Data-driven interaction scripts (after etcd-io/raft's testdata/*.txt): each file in testdata/ is a
 * sequence of commands, each followed by `----` and the expected output. Run with REWRITE=1 to
 * regenerate the expected output after an intended change, then review the diff.
 *
 * Commands: net IDS... [prevote=false] [checkquorum=false] [learners=IDS] | elect N | propose N TEXT |
 * tick N [TIMES] | tickall [TIMES] | isolate N | cut A B | drop TYPE | recover | transfer FROM TO |
 * read N CTX | conf N add-learner|add-node|remove ID | compact N | restart N | status | log N | applied N
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Network } from './harness';
import { ConfChangeType, MessageType, Role } from '../../src/raft';

// Compiled to runtime/.build-test/test/raft; the scripts stay in the source tree.
const dir = join(__dirname, '..', '..', '..', 'test', 'raft', 'testdata');
const enc = (s: string) => new TextEncoder().encode(s);

interface Block { comments: string[]; command: string; expected: string }

function parse(text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  let comments: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('#')) comments.push(line);
    if (line.trim() === '' || line.startsWith('#')) continue;
    if (lines[i + 1] !== '----') throw new Error(`line ${i + 2}: expected '----' after command '${line}'`);
    const out: string[] = [];
    i += 2;
    while (i < lines.length && lines[i] !== '') out.push(lines[i++]);
    blocks.push({ comments, command: line, expected: out.join('\n') });
    comments = [];
  }
  return blocks;
}

function run(state: { net?: Network }, command: string): string {
  const [name, ...args] = command.split(/\s+/);
  const n = (i: number) => {
    const v = Number(args[i]);
    if (!Number.isInteger(v)) throw new Error(`'${command}': argument ${i + 1} must be an integer`);
    return v;
  };
  if (name === 'net') {
    const ids = args.filter((a) => /^\d+$/.test(a)).map(Number);
    const opt = (k: string) => args.find((a) => a.startsWith(`${k}=`))?.split('=')[1];
    const learners = (opt('learners') ?? '').split(',').filter(Boolean).map(Number);
    state.net = new Network([...ids, ...learners], () => ({ preVote: opt('prevote') !== 'false', checkQuorum: opt('checkquorum') !== 'false' }), ids);
    return 'ok';
  }
  const net = state.net;
  if (!net) throw new Error('the script must start with `net`');
  try {
    switch (name) {
      case 'elect': net.elect(n(0)); break;
      case 'propose': net.propose(n(0), args[1]); break;
      case 'tick': net.tick(n(0), args[1] ? n(1) : 1); break;
      case 'tickall': net.tickAll(args[0] ? n(0) : 1); break;
      case 'isolate': net.isolate(n(0)); break;
      case 'cut': net.cutLink(n(0), n(1)); break;
      case 'drop': net.drop(MessageType[args[0] as keyof typeof MessageType]); break;
      case 'recover': net.recover(); break;
      case 'transfer': {
        net.node(n(0)).raw.transferLeadership(n(1));
        net.deliver(net.flush(net.node(n(0))));
        break;
      }
      case 'read': {
        const node = net.node(n(0));
        const before = node.readStates.length;
        node.raw.readIndex(enc(args[1]));
        net.deliver(net.flush(node));
        return node.readStates.slice(before).map((r) => `read ${new TextDecoder().decode(r.context)} at index ${r.index}`).join('\n') || 'no read state';
      }
      case 'conf': {
        const type = { 'add-learner': ConfChangeType.ADD_LEARNER, 'add-node': ConfChangeType.ADD_NODE, 'remove': ConfChangeType.REMOVE_NODE }[args[1]];
        if (type === undefined) throw new Error(`'${command}': unknown conf change '${args[1]}'`);
        const node = net.node(n(0));
        node.raw.proposeConfChange({ type, nodeId: n(2) });
        net.deliver(net.flush(node));
        break;
      }
      case 'compact': {
        const node = net.node(n(0));
        const st = node.raw.status();
        node.storage.createSnapshot(st.applied, st.confState, enc(`snapshot@${st.applied}`));
        node.storage.compact(st.applied);
        return `node ${n(0)} snapshot at ${st.applied}, first index ${node.storage.firstIndex()}`;
      }
      case 'restart': net.restart(n(0)); break;
      case 'status':
        return [...net.nodes.values()].map((x) => {
          const st = x.raw.status();
          return `${x.id}: ${Role[st.role].toLowerCase()} term=${st.term} lead=${st.leader} commit=${st.commit} last=${st.lastIndex} voters=${st.confState.voters.join(',')}` +
            (st.confState.learners.length ? ` learners=${st.confState.learners.join(',')}` : '');
        }).join('\n');
      case 'log': {
        const s = net.node(n(0)).storage;
        return `first=${s.firstIndex()} terms=${s.entries(s.firstIndex(), s.lastIndex() + 1).map((e) => e.term).join(',')}`;
      }
      case 'applied': return net.appliedText(n(0)).join(',') || '(none)';
      default: throw new Error(`unknown command '${name}'`);
    }
  } catch (e) {
    if (e instanceof Error && /^'|unknown command|must start/.test(e.message)) throw e;
    return `error: ${(e as Error).name}: ${(e as Error).message}`;
  }
  return 'ok';
}

describe('scripted interactions (testdata/*.txt)', () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
    it(file, () => {
      const path = join(dir, file);
      const blocks = parse(readFileSync(path, 'utf8'));
      const state: { net?: Network } = {};
      const actual = blocks.map((b) => ({ ...b, got: run(state, b.command) }));
      if (process.env.REWRITE === '1') {
        writeFileSync(path, actual.map((a) => [...a.comments, a.command, '----', a.got, ''].join('\n')).join('\n'));
        return;
      }
      for (const a of actual) assert.equal(a.got, a.expected, `${file}: ${a.command}`);
    });
  }
});
