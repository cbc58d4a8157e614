import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS_AUTH, api, apiOk, basicAuth, registerDevice, sendMessage, startServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { expectError, rawRequest } from './helpers/http.js';
import { connectDevice } from './helpers/ws-client.js';
import { SECURITY_HEADERS } from '../src/web/static.js';

const API_DOC = new URL('../../../docs/api.md', import.meta.url);

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server.close();
});

/** "METHOD /path/:param" of every HTTP route the Fastify router serves (HEAD, added automatically, left out). */
function servedRoutes(target: TestServer): Set<string> {
  const routes = new Set<string>();
  const stack: string[] = [];
  for (const line of target.app.fastify.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+)(?: \(([^)]*)\))?$/.exec(line);
    if (!match) continue;
    const depth = (match[1] as string).length / 4;
    stack.length = depth;
    stack.push(match[2] as string);
    for (const method of (match[3] ?? '').split(', ').filter((m) => m && m !== 'HEAD')) routes.add(`${method} ${stack.join('')}`);
  }
  return routes;
}

/** "METHOD /path/:param" of every route in the table of docs/api.md ("`DELETE …`" repeats the previous path). */
function documentedRoutes(): Set<string> {
  const routes = new Set<string>();
  const section = readFileSync(API_DOC, 'utf8').split('## Routes')[1]?.split('\n## ')[0] ?? '';
  for (const row of section.split('\n').filter((l) => l.startsWith('| `'))) {
    let path = '';
    for (const [, method, target] of row.split('|')[1]?.matchAll(/`(GET|POST|PUT|DELETE) ([^`]+)`/g) ?? []) {
      if (target !== '…') path = (target as string).split('?')[0] as string;
      routes.add(`${method} ${path}`);
    }
  }
  return routes;
}

describe('operations', () => {
  it('answers /health with the store engine', async () => {
    expect(await apiOk(server, 'GET', '/health')).toEqual({ status: 'ok', store: 'sqlite' });
  });

  it('serves the OpenAPI description at /docs/json listing every HTTP route, as docs/api.md does', async () => {
    const openapi = await apiOk<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(server, 'GET', '/docs/json');
    expect(openapi.openapi).toMatch(/^3\.1/);
    const described = new Set(
      Object.entries(openapi.paths).flatMap(([path, methods]) =>
        Object.keys(methods).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
      ),
    );
    const served = [...servedRoutes(server)].filter((r) => r.includes(' /v1/'));
    expect(served.length).toBeGreaterThanOrEqual(18);
    expect([...described].sort()).toEqual(served.sort());
    // docs/api.md: the same routes plus the WebSocket endpoints and the operations routes.
    const extra = ['GET /v1/websocket', 'GET /v1/provisioning/websocket', 'GET /health', 'GET /metrics', 'GET /docs'];
    expect([...documentedRoutes()].sort()).toEqual([...served, ...extra].sort());
    // Every described route has a summary and says what its errors look like.
    for (const methods of Object.values(openapi.paths)) {
      for (const op of Object.values(methods) as { summary?: string }[]) expect(op.summary).toBeTruthy();
    }
  });

  it('serves the API explorer at /docs, with the same security headers as the app and a Content Security Policy', async () => {
    const res = await fetch(`${server.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toContain('swagger');
    for (const path of ['/docs', '/docs/static/index.html']) {
      const page = await fetch(`${server.url}${path}`, { redirect: 'manual' });
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(page.headers.get(name), `${path} ${name}`).toBe(value);
    }
    expect((await fetch(`${server.url}/docs/static/index.html`)).headers.get('content-security-policy')).toMatch(/default-src 'self'/);
  });

  it('serves /metrics only to the bearer of --metrics-token, and not at all without one', async () => {
    expectError(await api(server, 'GET', '/metrics'), 'UNAUTHORIZED');
    expectError(await api(server, 'GET', '/metrics', { headers: { authorization: 'Bearer wrong-token-0123456789' } }), 'UNAUTHORIZED');
    expect((await api(server, 'GET', '/metrics', { headers: METRICS_AUTH })).status).toBe(200);
    const off = await startServer({ metricsToken: undefined });
    try {
      const res = await api(off, 'GET', '/metrics', { headers: METRICS_AUTH });
      expect(res.status).toBe(404);
      expectError(res, 'NOT_FOUND');
    } finally {
      await off.close();
    }
  });

  it('answers an undecodable URL with our error body, without repeating the path', async () => {
    const res = await rawRequest(server, 'GET', '/v1/accounts/%E0%A4%A');
    expect(res.status).toBe(400);
    expectError(res, 'BAD_REQUEST');
    expect(JSON.stringify(res.body)).not.toContain('%E0');
    expect((await api(server, 'GET', '/health')).status).toBe(200);
  });

  it('exposes connection, queue, message and error metrics at /metrics, with no account ids or usernames', async () => {
    const name = `metrics_${Date.now().toString(36)}`;
    const alice = await registerDevice(server, { username: name });
    const bob = await registerDevice(server);
    await sendMessage(server, alice, [bob]);
    await sendMessage(server, alice, [bob]);
    expectError(await api(server, 'GET', '/v1/accounts/me'), 'UNAUTHORIZED');
    expectError(await api(server, 'GET', `/v1/accounts/${'0'.repeat(32)}`, { auth: alice }), 'ACCOUNT_NOT_FOUND');
    const socket = await connectDevice(server, alice);
    try {
      const res = await fetch(`${server.url}/metrics`, { headers: METRICS_AUTH });
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await res.text();
      const value = (metric: string) => Number(text.split('\n').find((l) => l.startsWith(`${metric} `))?.split(' ')[1]);
      expect(value('samizdat_websocket_connections')).toBe(1);
      expect(value('samizdat_queue_depth')).toBeGreaterThanOrEqual(2);
      expect(value('samizdat_envelopes_stored_total')).toBeGreaterThanOrEqual(2);
      expect(text).toMatch(/^samizdat_envelopes_delivered_total \d+$/m);
      expect(text).toMatch(/^samizdat_errors_total\{code="UNAUTHORIZED"\} [1-9]\d*$/m);
      expect(text).toMatch(/^samizdat_errors_total\{code="ACCOUNT_NOT_FOUND"\} [1-9]\d*$/m);
      expect(text).toMatch(/^samizdat_http_request_seconds_count\{route="\/v1\/messages\/:accountId",status="200"\} [1-9]\d*$/m);
      for (const secret of [alice.accountId, bob.accountId, name, alice.password]) expect(text).not.toContain(secret);
    } finally {
      await socket.close();
    }
  });

  it('answers an unknown route with NOT_FOUND and an unknown method with NOT_FOUND too', async () => {
    expectError(await api(server, 'GET', '/v1/nothing'), 'NOT_FOUND');
    expectError(await api(server, 'PATCH', '/v1/accounts/me'), 'NOT_FOUND');
    expect((await apiOk(server, 'GET', '/health')).status).toBe('ok');
  });

  it('answers every error with a JSON { code, message } body', async () => {
    const res = await rawRequest(server, 'POST', '/v1/accounts', { json: '{' });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Object.keys(res.body as object).sort()).toEqual(['code', 'message']);
  });
});

describe('internal errors', () => {
  it('answers a store failure with INTERNAL and the generic message, logging the error type only', async () => {
    const broken = await startServer();
    try {
      const alice = await registerDevice(broken);
      await broken.app.ctx.repo.close(); // the store goes away under a running server
      const res = await api(broken, 'GET', '/v1/devices', { auth: alice });
      expect(expectError(res, 'INTERNAL')).toEqual({ code: 'INTERNAL', message: 'Internal server error.' });
      const logged = broken.logs.filter((line) => line.includes('internal error'));
      expect(logged).toHaveLength(1);
      expect(logged[0]).not.toMatch(/SQLite|closed|stack/i);
      expect(logged[0]).not.toContain(alice.accountId);
    } finally {
      await broken.close();
    }
  });
});

describe('graceful shutdown', () => {
  it('ends a long-poll at once instead of waiting out its `wait`', async () => {
    const closing = await startServer();
    const bob = await registerDevice(closing);
    const poll = api(closing, 'GET', '/v1/messages?wait=30', { auth: bob });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    await closing.close();
    const res = await poll;
    expect(Date.now() - started).toBeLessThan(3000);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ messages: [], more: false });
  });

  it('finishes a download in progress at shutdown, then closes its kept-alive connection at once', async () => {
    const closing = await startServer();
    const alice = await registerDevice(closing);
    const size = 8 * 1024 * 1024;
    const upload = await rawRequest(closing, 'POST', '/v1/attachments', {
      auth: alice,
      body: new Uint8Array(size),
      headers: { 'content-type': 'application/octet-stream' },
    });
    const { id } = upload.body as { id: string };
    const download = await fetch(`${closing.url}/v1/attachments/${id}`, { headers: { authorization: basicAuth(alice) } });
    const closed = closing.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await download.arrayBuffer()).byteLength).toBe(size);
    const finished = Date.now();
    await closed;
    expect(Date.now() - finished).toBeLessThan(2000);
  });
});

describe('rate limits', () => {
  it('answers an account over its per-minute budget with RATE_LIMITED and Retry-After, other accounts unaffected', async () => {
    let clock = Date.now();
    const limited = await startServer({ now: () => clock, limits: { accountRequestsPerMinute: 5 } });
    try {
      const alice = await registerDevice(limited);
      const bob = await registerDevice(limited);
      for (let i = 0; i < 5; i++) await apiOk(limited, 'GET', '/v1/accounts/me', { auth: alice });
      const res = await api(limited, 'GET', '/v1/accounts/me', { auth: alice });
      expectError(res, 'RATE_LIMITED');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(12);
      // Every authenticated route draws on the same budget.
      expectError(await api(limited, 'GET', '/v1/devices', { auth: alice }), 'RATE_LIMITED');
      await apiOk(limited, 'GET', '/v1/accounts/me', { auth: bob });
      // Tokens come back with time.
      clock += 60_000;
      await apiOk(limited, 'GET', '/v1/accounts/me', { auth: alice });
    } finally {
      await limited.close();
    }
  });

  it('answers an IP over its per-minute budget with RATE_LIMITED and Retry-After on every route', async () => {
    let clock = Date.now();
    const limited = await startServer({ now: () => clock, limits: { ipRequestsPerMinute: 6 } });
    try {
      const alice = await registerDevice(limited);
      for (let i = 0; i < 5; i++) await apiOk(limited, 'GET', '/health');
      for (const [method, path] of [['GET', '/health'], ['GET', '/v1/accounts/me'], ['POST', '/v1/accounts']] as const) {
        const res = await api(limited, method, path, { auth: alice });
        expectError(res, 'RATE_LIMITED');
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
      clock += 60_000;
      expect(await apiOk(limited, 'GET', '/v1/accounts/me', { auth: alice })).toMatchObject({ accountId: alice.accountId });
    } finally {
      await limited.close();
    }
  });
});
