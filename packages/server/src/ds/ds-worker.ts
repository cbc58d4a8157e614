/**
 * A Delivery Service worker thread (threaded-verifier.ts): runs MlsDeliveryService's checks off the event loop, one
 * task at a time. It has no repository, so it accepts every credential's identity key on trust and reports each one
 * it accepted; the main thread checks them against the registered keys before it believes the result.
 */
import { parentPort } from 'node:worker_threads';
import { MlsDeliveryService, ProtocolError } from '@samizdat/protocol';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import { nodeMlsCryptoProvider } from '@samizdat/protocol/groups-node';
import type { WorkerReply, WorkerTask } from './threaded-verifier.js';

const port = parentPort;
if (port === null) throw new Error('ds-worker runs as a worker thread');

let seen: (readonly [string, Uint8Array])[] = [];
const ds = new MlsDeliveryService({
  crypto: new NodeCryptoProvider(),
  mlsCryptoProvider: nodeMlsCryptoProvider,
  isTrustedIdentity: (accountId, identityKey) => {
    seen.push([accountId, identityKey.slice()]);
    return true;
  },
});

async function run(task: WorkerTask): Promise<WorkerReply> {
  seen = [];
  try {
    const result = task.op === 'groupInfo' ? await ds.verifyGroupInfo(task.groupInfo) : await ds.verifyCommit(task.current, task.commit, task.next);
    return { id: task.id, ok: true, result, identities: seen };
  } catch (err) {
    if (err instanceof ProtocolError) return { id: task.id, ok: false, code: err.code, message: err.message };
    return { id: task.id, ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}

// Tasks arrive one at a time (the pool waits for each reply), but a chain keeps them in order regardless.
let chain = Promise.resolve();
port.on('message', (task: WorkerTask) => {
  chain = chain.then(async () => port.postMessage(await run(task)));
});
