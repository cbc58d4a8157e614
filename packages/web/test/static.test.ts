/**
 * How the server serves the web app (packages/server/src/web/static.ts), on a bare Fastify instance with the same
 * 404 handler as the real app: files and their caching, the history-API fallback, the paths it must never shadow,
 * the security headers, and a server without a build.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, errorBody } from '../../server/src/errors.js';
import { contentSecurityPolicy, registerWebApp } from '../../server/src/web/static.js';

const INDEX = '<!doctype html><title>app</title><script type="module" src="/assets/index-abc123.js"></script>';

async function appWith(root: string): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send(errorBody(new ApiError('NOT_FOUND'))));
  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/v1/accounts/me', async () => ({ me: true }));
  await registerWebApp(app, { root });
  await app.ready();
  return app;
}

let base: string;
let root: string;
let app: FastifyInstance;

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'samizdat-web-root-'));
  root = join(base, 'dist');
  mkdirSync(join(root, 'assets'), { recursive: true });
  writeFileSync(join(root, 'index.html'), INDEX);
  writeFileSync(join(root, 'sw.js'), 'self.addEventListener("fetch", () => {});');
  writeFileSync(join(root, 'assets', 'index-abc123.js'), 'console.log(1)');
  writeFileSync(join(root, '.env'), 'SECRET=1');
  writeFileSync(join(base, 'outside-web-root.txt'), 'outside');
  app = await appWith(root);
});

afterAll(async () => {
  await app.close();
  rmSync(base, { recursive: true, force: true });
});

describe('the web app on the server', () => {
  it('serves index.html at / and for app paths, revalidated on every load, with the security headers', async () => {
    for (const url of ['/', '/chat/0123456789abcdef0123456789abcdef', '/settings']) {
      const res = await app.inject({ method: 'GET', url, headers: { host: '127.0.0.1:8080' } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toBe(INDEX);
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['content-security-policy']).toBe(contentSecurityPolicy('127.0.0.1:8080'));
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-frame-options']).toBe('DENY');
    }
  });

  it('caches content-hashed assets for good and other files not at all', async () => {
    const asset = await app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['content-type']).toMatch(/javascript/);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const worker = await app.inject({ method: 'GET', url: '/sw.js' });
    expect(worker.statusCode).toBe(200);
    expect(worker.headers['cache-control']).toBe('no-cache');
  });

  it('never shadows the API or the operations routes, and answers missing files with 404', async () => {
    expect((await app.inject({ method: 'GET', url: '/v1/accounts/me' })).json()).toEqual({ me: true });
    expect((await app.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok' });
    for (const url of ['/v1/nothing', '/v1', '/docs/nothing', '/metrics/x', '/assets/missing.js', '/favicon.ico']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json(), url).toMatchObject({ code: 'NOT_FOUND' });
    }
    expect((await app.inject({ method: 'POST', url: '/' })).statusCode).toBe(404);
  });

  it('serves no dotfile and nothing outside its folder', async () => {
    for (const url of ['/.env', '/assets/../.env', '/%2e%2e/outside-web-root.txt', '/..%2foutside-web-root.txt', '/assets/%2e%2e%2f%2e%2e%2foutside-web-root.txt']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.body, url).not.toContain('SECRET');
      expect(res.body, url).not.toContain('outside');
    }
  });

  it('names only this host in connect-src, and nothing when the Host header is odd', () => {
    expect(contentSecurityPolicy('chat.example.org')).toContain("connect-src 'self' ws://chat.example.org wss://chat.example.org;");
    expect(contentSecurityPolicy('[::1]:8080')).toContain('ws://[::1]:8080');
    expect(contentSecurityPolicy('evil.org; script-src *')).toContain("connect-src 'self';");
    expect(contentSecurityPolicy(undefined)).toContain("connect-src 'self';");
    expect(contentSecurityPolicy('x')).not.toContain('unsafe');
  });

  it('starts without a build and tells what to run at /', async () => {
    const bare = await appWith(join(base, 'missing-dist'));
    try {
      const res = await bare.inject({ method: 'GET', url: '/' });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('npm run build') });
      expect((await bare.inject({ method: 'GET', url: '/v1/nothing' })).json()).toEqual(errorBody(new ApiError('NOT_FOUND')));
    } finally {
      await bare.close();
    }
  });
});
