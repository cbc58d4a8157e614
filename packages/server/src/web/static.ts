/**
 * The web client (packages/web, built by Vite into packages/web/dist) served at `/`.
 *
 * - Files of the build are served as they are; `/assets/*` (content-hashed names) are cached for a year, everything
 *   else is revalidated on every load, so a new build reaches browsers at once.
 * - Any other GET of a path that is not the API's (`/v1/…`, `/docs…`, `/health`, `/metrics`) answers index.html:
 *   the app routes in the browser (history API), so a reload of `/chat/…` must load the app.
 * - Every response of the app carries a Content Security Policy that allows scripts, styles, fonts and workers from
 *   this origin only and no inline script (the app holds the user's keys: an injected script could read them), and
 *   forbids framing (clickjacking of "Add a device").
 * - Without a build (a fresh clone before `npm run build`), the server still starts and `/` explains what to do.
 */
import { stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
// The `schema.hide` of the routes below is @fastify/swagger's: they stay out of the API description.
import type {} from '@fastify/swagger';
import { ApiError, errorBody } from '../errors.js';

/** packages/web/dist, found from this module (packages/server/{src,dist}/web/), so any working directory works. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

export interface WebAppOptions {
  /** The built app's folder (default DEFAULT_WEB_ROOT). */
  readonly root?: string;
}

/** Paths the app never answers: the API and the operations routes keep their own 404s. */
const RESERVED = /^\/(?:v1|docs|health|metrics)(?:[/?]|$)/;
/** Content-hashed build output: safe to cache for good. */
const HASHED_ASSET = /^\/assets\/[^/]+$/;
/** A path whose last segment looks like a file name: a missing file is a 404, not the app. */
const FILE_LIKE = /\/[^/]*\.[A-Za-z0-9]+$/;
/** A Host header we are willing to repeat in the policy (host, IPv4, [IPv6], optional port). */
const SAFE_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The policy of every app response. `connect-src` names this host's ws:/wss: explicitly: CSP 3 lets 'self' match
 * them, but older engines do not, and the delivery socket must be allowed.
 */
export function contentSecurityPolicy(host: string | undefined): string {
  const sockets = host !== undefined && SAFE_HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    "media-src 'self' blob:",
    "font-src 'self'",
    `connect-src 'self'${sockets}`,
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The headers of every page the server serves (the app's and /docs), its Content Security Policy aside. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(self), microphone=(), geolocation=(), payment=()',
};

function securityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  void reply.headers({ 'content-security-policy': contentSecurityPolicy(request.headers.host), ...SECURITY_HEADERS });
}

/** Registers the app's routes (`GET /` and the fallback `GET /*`) in their own encapsulated context. */
export async function registerWebApp(fastify: FastifyInstance, options: WebAppOptions = {}): Promise<void> {
  const root = resolve(options.root ?? DEFAULT_WEB_ROOT);
  const built = existsSync(resolve(root, 'index.html'));
  if (!built) fastify.log.info({ root }, 'web app not built: / answers 404 until `npm run build` has run');

  await fastify.register(async (app) => {
    if (built) await app.register(fastifyStatic, { root, serve: false, dotfiles: 'ignore', index: false });

    const serve = async (request: FastifyRequest, reply: FastifyReply) => {
      const path = request.url.split('?')[0] ?? '/';
      if (RESERVED.test(path)) return reply.callNotFound();
      securityHeaders(request, reply);
      if (!built) {
        return reply
          .code(404)
          .send(errorBody(new ApiError('NOT_FOUND', 'The web app is not built: run `npm run build` (or `npm start`) at the repository root.')));
      }
      const file = await existingFile(root, path);
      if (file !== undefined) {
        const cache = HASHED_ASSET.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache';
        return reply.header('cache-control', cache).sendFile(file, { cacheControl: false });
      }
      if (FILE_LIKE.test(path)) return reply.callNotFound();
      return reply.header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false });
    };
    app.get('/', { schema: { hide: true } }, serve);
    app.get('/*', { schema: { hide: true } }, serve);
  });
}

/** The file under `root` that `urlPath` names (relative to root), if it is a regular file there and not a dotfile. */
async function existingFile(root: string, urlPath: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded === '/' || decoded.includes('\0') || /(?:^|\/)\./.test(decoded)) return undefined;
  const full = resolve(root, `.${decoded}`);
  if (!full.startsWith(root + sep)) return undefined;
  try {
    return (await stat(full)).isFile() ? full.slice(root.length + 1) : undefined;
  } catch {
    return undefined;
  }
}
