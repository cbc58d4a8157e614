/**
 * HTTP helpers for the route tests, next to api()/apiOk() of server.ts: requests with a raw body (malformed JSON,
 * bytes, streams) and an assertion that an answer is a given stable error — its code, and the status errors.ts
 * assigns to that code — never its message text.
 *
 *   expectError(await api(server, 'GET', '/v1/accounts/me'), 'UNAUTHORIZED');
 *   expectError(await rawRequest(server, 'POST', '/v1/accounts', { json: '{"identityKey":' }), 'INVALID_JSON');
 */
import { expect } from 'vitest';
import { ERRORS } from '../../src/errors.js';
import type { ErrorCode } from '../../src/errors.js';
import type { ApiResponse, Credentialed, TestServer } from './server.js';
import { basicAuth } from './server.js';

export const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** Asserts that `res` is the error `code` with its documented status; returns the body for detail checks. */
export function expectError(res: ApiResponse, code: ErrorCode): Record<string, unknown> {
  const body = res.body as { code?: unknown } | string;
  expect({ status: res.status, code: typeof body === 'object' ? body.code : body }).toEqual({ status: ERRORS[code].status, code });
  return res.body as Record<string, unknown>;
}

export interface RawOptions {
  readonly auth?: Credentialed;
  /** Sent as is with `content-type: application/json`. */
  readonly json?: string;
  /** Sent as is; set `content-type` in `headers`. A ReadableStream is streamed (chunked). */
  readonly body?: Uint8Array | string | ReadableStream<Uint8Array>;
  readonly headers?: Record<string, string>;
}

/** A request whose body is exactly what the caller gives (api() always JSON-encodes). */
export async function rawRequest(server: Pick<TestServer, 'url'>, method: string, path: string, options: RawOptions = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = {
    ...(options.json !== undefined ? { 'content-type': 'application/json' } : {}),
    ...options.headers,
    ...(options.auth ? { authorization: basicAuth(options.auth) } : {}),
  };
  const body = options.json ?? options.body;
  const response = await fetch(server.url + path, {
    method,
    headers,
    ...(body !== undefined ? { body, duplex: 'half' } : {}),
  } as RequestInit);
  const text = await response.text();
  const isJson = (response.headers.get('content-type') ?? '').includes('application/json');
  return { status: response.status, headers: response.headers, body: isJson && text ? (JSON.parse(text) as unknown) : text };
}

/** A stream of `total` bytes produced in `chunk`-sized pieces by `fill` (the request body is never whole in memory). */
export function byteStream(total: number, fill: (offset: number, length: number) => Uint8Array, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= total) {
        controller.close();
        return;
      }
      const length = Math.min(chunk, total - offset);
      controller.enqueue(fill(offset, length));
      offset += length;
    },
  });
}
