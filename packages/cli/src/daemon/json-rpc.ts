/**
 * `samizdat daemon --json-rpc`: JSON-RPC 2.0 (jsonrpc.org/specification) with one JSON object per line, on
 * stdin/stdout and on a Unix socket (default `<home>/daemon.sock`), for bots and other programs. The daemon holds
 * the profile and stays connected; received messages, updates and typing arrive as `receive` notifications on every
 * attached stream. Errors: the specification's codes (-32700 parse, -32600 request, -32601 method, -32602 params),
 * and -32000 for a failed call with `data.code` holding the stable Samizdat code.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Client } from '@samizdat/client';
import { messageJson } from '../events.js';
import { describeError } from '../output.js';

type Params = Record<string, unknown>;
type Method = (params: Params) => Promise<unknown>;

export class RpcError extends Error {
  constructor(
    readonly rpcCode: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

const invalidParams = (message: string) => new RpcError(-32602, message);

function str(params: Params, key: string, optional = false): string {
  const v = params[key];
  if (v === undefined && optional) return '';
  if (typeof v !== 'string' || v === '') throw invalidParams(`"${key}" must be a non-empty string`);
  return v;
}

function int(params: Params, key: string): number {
  const v = params[key];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidParams(`"${key}" must be an integer`);
  return v;
}

/** The methods the daemon offers, over an open, started client. */
export function methods(client: Client): Record<string, Method> {
  return {
    whoami: async () => ({ accountId: client.accountId, deviceId: client.deviceId, username: client.username ?? null, server: client.serverUrl }),
    send: async (p) => {
      const to = str(p, 'to');
      const text = str(p, 'text', true);
      const files = p.attachments === undefined ? [] : p.attachments;
      if (!Array.isArray(files) || files.some((f) => typeof f !== 'string')) throw invalidParams('"attachments" must be a list of file paths');
      if (text === '' && files.length === 0) throw invalidParams('nothing to send: "text", "attachments" or both');
      const attachments = [];
      for (const file of files as string[]) {
        attachments.push({ data: new Uint8Array(await readFile(file)), contentType: 'application/octet-stream', fileName: basename(file) });
      }
      const sent = await client.sendText(to, text, { attachments });
      return { id: sent.id, timestamp: sent.timestamp, status: sent.status };
    },
    sendTyping: async (p) => {
      const action = str(p, 'action');
      if (action !== 'started' && action !== 'stopped') throw invalidParams('"action" is "started" or "stopped"');
      await client.sendTyping(str(p, 'to'), action);
      return {};
    },
    markRead: async (p) => ({ read: await client.markRead(str(p, 'to')) }),
    edit: async (p) => {
      await client.editMessage(str(p, 'to'), str(p, 'id'), str(p, 'text'));
      return {};
    },
    delete: async (p) => {
      await client.deleteForEveryone(str(p, 'to'), str(p, 'id'));
      return {};
    },
    react: async (p) => {
      const to = await client.resolve(str(p, 'to'));
      const author = typeof p.author === 'string' ? (await client.resolve(p.author)).accountId : to.accountId;
      await client.react(to.accountId, { id: str(p, 'id'), author }, str(p, 'emoji'), p.remove === true);
      return {};
    },
    setExpireTimer: async (p) => {
      await client.setExpireTimer(str(p, 'to'), int(p, 'seconds'));
      return {};
    },
    contacts: async () => ({ contacts: await client.contacts() }),
    conversations: async () => {
      const list = await client.conversations();
      return {
        conversations: await Promise.all(
          list.map(async (c) => ({
            conversation: await client.displayName(c.conversation),
            accountId: c.conversation,
            state: c.state ?? 'accepted',
            unread: c.unread,
            lastMessage: c.lastMessage ? await messageJson(client, c.lastMessage) : null,
          })),
        ),
      };
    },
    history: async (p) => {
      const peer = await client.resolve(str(p, 'with'));
      const limit = p.limit === undefined ? 50 : int(p, 'limit');
      return { messages: await Promise.all((await client.history(peer.accountId, { limit })).map((m) => messageJson(client, m))) };
    },
    acceptRequest: async (p) => {
      await client.acceptRequest(str(p, 'with'));
      return {};
    },
    deleteConversation: async (p) => {
      await client.deleteConversation(str(p, 'with'));
      return {};
    },
    block: async (p) => {
      await client.block(str(p, 'with'));
      return {};
    },
    unblock: async (p) => {
      await client.unblock(str(p, 'with'));
      return {};
    },
    blocked: async () => ({ blocked: (await client.blocked()).map((c) => ({ accountId: c.accountId, username: c.username ?? null })) }),
    devices: async () => ({ devices: await client.devices() }),
    safetyNumber: async (p) => {
      const sn = await client.safetyNumber(str(p, 'with'));
      return { safetyNumber: sn.digits, formatted: sn.formatted, scannable: Buffer.from(sn.scannable).toString('base64url'), verified: sn.verified };
    },
    markVerified: async (p) => {
      await client.markVerified(str(p, 'with'), p.verified !== false);
      return {};
    },
  };
}

/** One JSON-RPC request line → the response object (undefined for notifications). */
export async function handleLine(table: Record<string, Method>, line: string): Promise<object | undefined> {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch {
    return { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error: not JSON' } };
  }
  const r = request as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };
  const id = typeof r?.id === 'string' || typeof r?.id === 'number' ? r.id : r?.id === undefined ? undefined : null;
  if (typeof request !== 'object' || request === null || Array.isArray(request) || r.jsonrpc !== '2.0' || typeof r.method !== 'string' || id === null) {
    return { jsonrpc: '2.0', id: id ?? null, error: { code: -32600, message: 'invalid request: a JSON-RPC 2.0 object with "method" and a string or number "id"' } };
  }
  const params = r.params === undefined ? {} : r.params;
  const method = Object.hasOwn(table, r.method) ? table[r.method] : undefined;
  try {
    if (!method) throw new RpcError(-32601, `unknown method "${r.method}"`);
    if (typeof params !== 'object' || params === null || Array.isArray(params)) throw invalidParams('params must be an object');
    const result = await method(params as Params);
    return id === undefined ? undefined : { jsonrpc: '2.0', id, result };
  } catch (err) {
    if (id === undefined) return undefined;
    if (err instanceof RpcError) return { jsonrpc: '2.0', id, error: { code: err.rpcCode, message: err.message, ...(err.data !== undefined ? { data: err.data } : {}) } };
    const { code, message } = describeError(err);
    return { jsonrpc: '2.0', id, error: { code: -32000, message, data: { code } } };
  }
}

/** Serves requests from `input` (one per line) and writes responses and notifications to `output`. */
export function serveStream(table: Record<string, Method>, input: Readable, output: Writable): { closed: Promise<void>; notify(params: object): void } {
  const rl = createInterface({ input, crlfDelay: Infinity });
  const write = (obj: object) => {
    if (output.writable) output.write(`${JSON.stringify(obj)}\n`);
  };
  const closed = (async () => {
    for await (const line of rl) {
      if (line.trim() === '') continue;
      void handleLine(table, line).then((response) => response && write(response));
    }
  })();
  return { closed, notify: (params) => write({ jsonrpc: '2.0', method: 'receive', params }) };
}
