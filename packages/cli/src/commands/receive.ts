import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClientError, ClientErrorCode } from '@samizdat/client';
import type { Client, DeliveryState, MessageRecord } from '@samizdat/client';
import type { Command } from 'commander';
import type { SavedAttachment } from '../events.js';
import { identityJson, messageJson, typingJson, updateJson } from '../events.js';
import { CliError, usage } from '../output.js';
import type { Output } from '../output.js';
import { openClient } from '../profile.js';
import type { GlobalOptions } from '../profile.js';
import { progressBar } from '../progress.js';
import type { Runner } from '../runner.js';

/** Connection states after which nothing more will arrive. */
const FINAL: Partial<Record<DeliveryState, string>> = {
  unauthorized: 'the server does not accept this device any more (was it removed?)',
  removed: 'this device was removed from the account',
  replaced: 'another process connected as this device',
};

/** Downloads and decrypts a message's attachments into `dir`; a corrupted one is reported, never saved. */
export async function saveAttachments(client: Client, m: MessageRecord, dir: string): Promise<SavedAttachment[]> {
  const out: SavedAttachment[] = [];
  for (const a of m.attachments ?? []) {
    const bar = progressBar('download');
    try {
      const data = await client.downloadAttachment(a, (done, total) => bar.update(done, total));
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const safeName = (a.fileName ?? 'attachment').replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);
      const file = join(dir, `${a.id.slice(0, 16)}-${safeName}`);
      await writeFile(file, data, { mode: 0o600 });
      out.push({ file });
    } catch (err) {
      out.push({ error: ClientError.is(err) ? err.code : 'DOWNLOAD_FAILED' });
    } finally {
      bar.stop();
    }
  }
  return out;
}

/** Prints every event of a running client in order (JSON lines, or text for people). */
export function printEvents(client: Client, out: Output, attachmentDir: string, onActivity: () => void): () => Promise<void> {
  let chain = Promise.resolve();
  const later = (fn: () => Promise<void>) => {
    onActivity();
    chain = chain.then(fn).catch(() => undefined);
  };
  client.on('message', (m) =>
    later(async () => {
      const saved = m.attachments?.length ? await saveAttachments(client, m, attachmentDir) : [];
      const json = await messageJson(client, m, saved);
      out.result(json, humanLine(json));
    }),
  );
  client.on('message-updated', (m) =>
    later(async () => {
      const json = await updateJson(client, m);
      out.result(json, `[${json.conversation as string}] ${m.id.slice(0, 8)} is now ${m.deleted ? 'deleted' : m.status}${m.editedAt ? ' (edited)' : ''}`);
    }),
  );
  client.on('typing', (t) =>
    later(async () => {
      const json = await typingJson(client, t);
      out.result(json, `${json.from as string} ${t.action === 'started' ? 'is typing…' : 'stopped typing'}`);
    }),
  );
  client.on('identity-changed', (e) =>
    later(async () => {
      const json = identityJson(e);
      out.result(json, `The safety number with ${json.from as string} changed. Verify it again ("samizdat verify ${json.from as string}").`);
    }),
  );
  return () => chain;
}

function humanLine(json: Record<string, unknown>): string {
  const when = new Date(json.timestamp as number).toLocaleTimeString();
  switch (json.type) {
    case 'message': {
      const files = (json.attachments as { file?: string; error?: string }[] | undefined) ?? [];
      const extra = files.map((f) => (f.file ? ` [file: ${f.file}]` : ` [attachment failed: ${f.error}]`)).join('');
      const named = typeof json.fromName === 'string' && json.fromName !== json.from ? ` (${json.fromName})` : '';
      const who = json.direction === 'outgoing' ? `me → ${json.conversation as string}` : `${json.from as string}${named}`;
      const request = json.request === true ? '(message request) ' : '';
      // Identified 1:1 messages are marked: the server learned who sent them.
      const identified = json.sealed === false ? ' (identified)' : '';
      return `${when} ${request}${who}: ${(json.body as string | null) ?? ''}${extra}${identified}`;
    }
    case 'identity-changed':
      return `${when} the safety number with ${json.conversation as string} changed`;
    case 'undecryptable':
      return `${when} a message from ${json.from as string} could not be decrypted; asked them to resend`;
    case 'timer-changed':
      return `${when} ${json.from as string} set disappearing messages to ${json.expireTimer as number} s`;
    default:
      return `${when} ${String(json.type)}`;
  }
}

/**
 * Commands other than receive (groups, send to a group) first bring the device up to date, which processes what
 * was queued. What arrives then is stored, and its key noted here, so that the next `receive` still prints it.
 */
const UNSHOWN_FILE = 'unshown.jsonl';

/** Opens the client, processes what is queued (so that what just arrived is known), runs `fn`, and closes. */
export async function withCaughtUpClient(opts: GlobalOptions, fn: (client: Client) => Promise<void>): Promise<void> {
  const { client, profile } = await openClient(opts);
  try {
    await catchUp(client, profile.home);
    await fn(client);
  } finally {
    await client.close();
    await profile.close();
  }
}

export async function catchUp(client: Client, home: string): Promise<void> {
  const file = join(home, UNSHOWN_FILE);
  client.on('message', (m) => {
    if (m.direction === 'incoming' || m.authorDevice !== client.deviceId) appendFileSync(file, `${JSON.stringify([m.conversation, m.author, m.id])}\n`, { mode: 0o600 });
  });
  const { finished } = await startReceiving(client);
  await Promise.race([client.whenQueueEmpty(), finished]);
}

/** Prints (and forgets) the messages that other commands received without showing. */
async function printUnshown(client: Client, home: string, out: Output, dir: string): Promise<void> {
  const file = join(home, UNSHOWN_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return;
  }
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const [conversation, author, id] = JSON.parse(line) as [string, string, string];
      const m = await client.message(conversation, author, id);
      if (!m) continue;
      const json = await messageJson(client, m, m.attachments?.length ? await saveAttachments(client, m, dir) : []);
      out.result(json, humanLine(json));
    } catch {
      // A damaged line: skip it.
    }
  }
  rmSync(file, { force: true });
}

/** Starts the client and fails clearly if it cannot get connected, or loses the connection for good. */
export async function startReceiving(client: Client): Promise<{ finished: Promise<never> }> {
  let fail!: (err: Error) => void;
  const finished = new Promise<never>((_, reject) => (fail = reject));
  finished.catch(() => undefined);
  let opened = false;
  client.on('connection', (state) => {
    if (state === 'open') opened = true;
    const final = FINAL[state];
    if (final) fail(new CliError(state.toUpperCase(), final));
    else if (state === 'backoff' && !opened) fail(new ClientError(ClientErrorCode.ServerUnreachable, `cannot connect to ${client.serverUrl}`));
  });
  await client.start();
  return { finished };
}

export function receiveCommand(program: Command, run: Runner): void {
  program
    .command('receive')
    .description('receive messages: prints what was waiting, then what arrives until nothing has for --timeout seconds')
    .option('--timeout <seconds>', 'stop after this many seconds without new messages (0: right after the queue is empty; negative: never)', '5')
    .action((cmd: { timeout: string }, command: Command) =>
      run(async (opts, out) => {
        const timeout = Number(cmd.timeout);
        if (!Number.isFinite(timeout)) throw usage('--timeout takes a number of seconds');
        const { client, profile } = await openClient(opts);
        let idle: ReturnType<typeof setTimeout> | undefined;
        let done!: () => void;
        const quiet = new Promise<void>((resolve) => (done = resolve));
        let drained = false;
        const arm = () => {
          if (!drained || timeout < 0) return;
          if (idle) clearTimeout(idle);
          idle = setTimeout(done, timeout * 1000);
        };
        await printUnshown(client, profile.home, out, join(profile.home, 'attachments'));
        const flushed = printEvents(client, out, join(profile.home, 'attachments'), arm);
        const stop = () => done();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          const { finished } = await startReceiving(client);
          await Promise.race([client.whenQueueEmpty(), finished]);
          drained = true;
          arm();
          await Promise.race([quiet, finished]);
        } finally {
          if (idle) clearTimeout(idle);
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          await client.stop();
          await flushed();
          await client.close();
          await profile.close();
        }
      }, command),
    );
}
