/**
 * buildApp: the whole server as one Fastify instance plus the WebSocket endpoints, wired explicitly (no autoload).
 * Tests build it on a temporary data directory and listen on 127.0.0.1; main.ts does the same from the config.
 */
import Fastify, { LogController } from 'fastify';
import type { FastifyError, FastifyInstance } from 'fastify';
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { ValidatorFactory } from '@fastify/ajv-compiler';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Config } from './config.js';
import type { Repository } from './store/repository.js';
import { RepositoryError } from './store/repository.js';
import type { LocalBlobStore } from './blobs/blob-store.js';
import type { MessageBus } from './bus/bus.js';
import { DeviceWaiters } from './bus/device-waiters.js';
import { Metrics } from './metrics.js';
import { ServerContext } from './context.js';
import { ApiError, errorBody } from './errors.js';
import { registerAccountRoutes } from './routes/accounts.js';
import { registerDeviceRoutes } from './routes/devices.js';
import { registerKeyRoutes } from './routes/keys.js';
import { SEALED_SEND_PATH, registerMessageRoutes } from './routes/messages.js';
import { registerAttachmentRoutes } from './routes/attachments.js';
import { SEALED_GROUP_SEND_PATH, registerGroupRoutes } from './routes/groups.js';
import { registerCertificateRoutes } from './routes/certificates.js';
import { PROFILE_FETCH_PATH, registerProfileRoutes } from './routes/profiles.js';
import { CertificateIssuer } from './sealed-sender/certificate-issuer.js';
import { SECURITY_HEADERS, registerWebApp } from './web/static.js';
import { attachWebSockets } from './websocket/upgrade-handler.js';
import type { WebSocketEndpoints, WebSocketOptions } from './websocket/upgrade-handler.js';
import { inProcessVerifier } from './ds/commit-verifier.js';
import type { CommitVerifier } from './ds/commit-verifier.js';
import type { KeyPair } from '@samizdat/protocol';

export interface AppDeps {
  readonly config: Config;
  readonly repo: Repository;
  readonly blobs: LocalBlobStore;
  readonly bus: MessageBus;
  readonly usernameKey: Uint8Array;
  /** Where logs go (default stdout); tests pass a stream they can scan. */
  readonly logStream?: NodeJS.WritableStream;
  readonly now?: () => number;
  /** WebSocket timings (keepalive, auth timeout, provisioning lifetime); tests shorten them. */
  readonly websocket?: WebSocketOptions;
  /**
   * Where MLS commits are verified (ds/commit-verifier.ts): main.ts gives worker threads (`--ds-threads`); without
   * one they are verified on the event loop.
   */
  readonly verifier?: CommitVerifier;
  /**
   * The sealed-sender trust root (Ed25519): main.ts keeps it in --trust-root-key-file. Without one (tests, embedded
   * use) a fresh root is made for this process, so certificates do not outlive it.
   */
  readonly trustRoot?: KeyPair;
}

export interface App {
  readonly fastify: FastifyInstance;
  readonly ctx: ServerContext;
  readonly websockets: WebSocketEndpoints;
  /** Graceful stop: refuse new sends, finish in-flight requests, close sockets, flush storage. */
  close(): Promise<void>;
}

/**
 * The API routes that need no device: registration, linking, and the sealed-sender trust root (which a client pins
 * before it has an account). Every other /v1/ route authenticates first.
 */
/** Authorized by the recipient's access key instead of credentials (sealed-sender/unidentified-access.ts). */
const SEALED_SEND_ROUTE = `PUT ${SEALED_SEND_PATH}`;
/** Authorized by the group's send key instead of credentials (sealed-sender/group-send-access.ts). */
const SEALED_GROUP_SEND_ROUTE = `PUT ${SEALED_GROUP_SEND_PATH}`;
const PUBLIC_ROUTES = new Set(['POST /v1/accounts', 'POST /v1/devices/link', 'GET /v1/certificate/trust-root', `GET ${PROFILE_FETCH_PATH}`]);

const SWEEP_INTERVAL_MS = 60_000;
/** What frameworkErrors gets is a reply of no route; only these two calls are made on it. */
interface FastifyReplyLike {
  code(status: number): { send(body: unknown): unknown };
}
const CLOSE_REAP_INTERVAL_MS = 100;

const ajvPool = AjvCompiler();
const AJV_OPTIONS = { removeAdditional: false, allErrors: false } as const;

/**
 * JSON bodies are validated without type coercion: `"7"` or `true` is not an integer and `["x"]` is not a string
 * (Fastify's default would accept all three, so a schema would document one thing and the server accept another).
 * Path parameters and query strings are text, so there numbers are still coerced from their decimal form.
 */
const buildValidator: ValidatorFactory = (externalSchemas) => {
  const strict = ajvPool(externalSchemas, { customOptions: { ...AJV_OPTIONS, coerceTypes: false } });
  const coercing = ajvPool(externalSchemas, { customOptions: { ...AJV_OPTIONS, coerceTypes: 'array' } });
  return (route) => (route.httpPart === 'body' ? strict(route) : coercing(route));
};

/** Maps Fastify's own errors (schema, JSON, size, media type) onto our stable codes. */
function toApiError(err: FastifyError): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof RepositoryError) return new ApiError(err.code);
  if (err.validation) return new ApiError('VALIDATION_FAILED', `${err.validationContext ?? 'request'} ${err.validation[0]?.message ?? 'is invalid'}`.trim());
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('INVALID_JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('PAYLOAD_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('UNSUPPORTED_MEDIA_TYPE');
    default:
      if (err instanceof SyntaxError) return new ApiError('INVALID_JSON');
      if (err.statusCode === 413) return new ApiError('PAYLOAD_TOO_LARGE');
      if (err.statusCode === 415) return new ApiError('UNSUPPORTED_MEDIA_TYPE');
      if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return new ApiError('BAD_REQUEST');
      return new ApiError('INTERNAL');
  }
}

export async function buildApp(deps: AppDeps): Promise<App> {
  const { config } = deps;
  const fastify = Fastify({
    logger: {
      level: config.logLevel,
      // Never log credentials, bodies or full URLs (URLs carry account ids and cursors): only route patterns.
      redact: { paths: ['req.headers.authorization', 'headers.authorization'], remove: true },
      serializers: {
        req: (req: { method: string; routeOptions?: { url?: string | undefined } }) => ({ method: req.method, route: req.routeOptions?.url }),
        res: (res: { statusCode: number }) => ({ status: res.statusCode }),
      },
      ...(deps.logStream ? { stream: deps.logStream } : {}),
    },
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    trustProxy: false,
    // Slow clients: the whole request must arrive within requestTimeoutMs, and a connection silent for idleTimeoutMs
    // is closed (WebSockets are exempt: websocket/upgrade-handler.ts). Node's default requestTimeout under Fastify is 0.
    requestTimeout: config.limits.requestTimeoutMs,
    // Node checks the request timeout every connectionsCheckingInterval (default 30 s: often enough for short ones
    // too), and only while headersTimeout (default 60 s) is no longer than it.
    http: {
      requestTimeout: config.limits.requestTimeoutMs,
      headersTimeout: Math.min(60_000, config.limits.requestTimeoutMs),
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(config.limits.requestTimeoutMs / 4))),
    },
    connectionTimeout: config.limits.idleTimeoutMs,
    // A request cut off (too slow, malformed at the HTTP level) is answered in our error format, then closed.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const apiError = new ApiError(err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT' : 'BAD_REQUEST');
      const body = JSON.stringify(errorBody(apiError));
      if (socket.writable) {
        socket.write(
          `HTTP/1.1 ${apiError.status} ${apiError.status === 408 ? 'Request Timeout' : 'Bad Request'}\r\nConnection: close\r\n` +
            `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      }
      socket.destroy();
    },
    // An undecodable URL gets our error body, not Fastify's, which repeats the path.
    frameworkErrors: (error, _request, reply) => {
      const apiError = new ApiError('BAD_REQUEST', error.code === 'FST_ERR_BAD_URL' ? 'The URL could not be decoded.' : undefined);
      // The reply is untyped here (no route matched): status and body as any error answer.
      void (reply as unknown as FastifyReplyLike).code(apiError.status).send(errorBody(apiError));
    },
    // While draining, requests on open keep-alive connections reach the routes (which answer sends with
    // SHUTTING_DOWN) instead of Fastify's own 503 body, which has no stable error code.
    return503OnClosing: false,
    schemaController: { compilersFactory: { buildValidator } },
  });
  const metrics = new Metrics();
  const ctx = new ServerContext(config, deps.repo, deps.blobs, deps.bus, metrics, deps.usernameKey, fastify.log, deps.now);
  const verifier = deps.verifier ?? inProcessVerifier(deps.repo, ctx.crypto);
  const waiters = new DeviceWaiters(deps.bus);

  // At most maxConnectionsPerIp open connections per address: one more is closed as it arrives, before it is read.
  const connectionsPerIp = new Map<string, number>();
  fastify.server.on('connection', (socket: Socket) => {
    const ip = socket.remoteAddress ?? 'unknown';
    const open = connectionsPerIp.get(ip) ?? 0;
    if (open >= config.limits.maxConnectionsPerIp) {
      metrics.connectionsRefused.inc();
      socket.destroy();
      return;
    }
    connectionsPerIp.set(ip, open + 1);
    socket.once('close', () => {
      const left = (connectionsPerIp.get(ip) ?? 1) - 1;
      if (left <= 0) connectionsPerIp.delete(ip);
      else connectionsPerIp.set(ip, left);
    });
  });

  fastify.addHook('onRequest', async (request) => {
    if (!ctx.ipLimiter.take(request.ip, ctx.now())) {
      throw new ApiError('RATE_LIMITED', undefined, { retryAfter: ctx.ipLimiter.retryAfter(request.ip) });
    }
    // Every API route but registration and linking needs a device: authenticated here, before a byte of the body is
    // read, so that nobody without credentials makes the server buffer a large body (the route reuses the answer).
    const url = request.routeOptions.url;
    const route = `${request.method} ${url}`;
    if (route === SEALED_SEND_ROUTE) {
      // A sealed send names nobody: the recipient's access key lets it in (routes/messages.ts).
      await ctx.unidentified.authorize(request, (request.params as { accountId?: string }).accountId ?? '');
    } else if (route === SEALED_GROUP_SEND_ROUTE) {
      // Nor does a sealed group send: the epoch's group send key lets it in (routes/groups.ts).
      await ctx.groupSendAccess.authorize(request, (request.params as { groupId?: string }).groupId ?? '');
    } else if (url !== undefined && url.startsWith('/v1/') && !PUBLIC_ROUTES.has(route)) {
      await ctx.authenticate(request);
    }
  });
  // A response finished while draining closes its connection: server.close() reaps only connections that are idle
  // when it starts, and a client would otherwise keep a kept-alive one open (and the process alive) for its timeout.
  fastify.addHook('onSend', async (_request, reply, payload) => {
    if (ctx.closing) void reply.header('connection', 'close');
    return payload;
  });
  fastify.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requestSeconds.observe({ route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    request.log.debug({ method: request.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    const apiError = toApiError(error);
    metrics.errors.inc({ code: apiError.code });
    // Refused before its body was read (an upload without credentials or over the limit): the client may still be
    // sending, so end the connection after the answer rather than wait for the rest (as Fastify's parsers do).
    if (!request.raw.complete) void reply.header('connection', 'close');
    if (apiError.status >= 500) {
      // The error's own message may name internals; log its type and code only, answer with the generic text.
      request.log.error({ err: { type: error.name, code: error.code }, route: request.routeOptions.url }, 'internal error');
    }
    if (apiError.code === 'SERVER_BUSY') void reply.header('retry-after', '5');
    if (apiError.code === 'RATE_LIMITED' && typeof apiError.details?.retryAfter === 'number') {
      void reply.header('retry-after', String(apiError.details.retryAfter));
    }
    return reply.code(apiError.status).send(errorBody(apiError));
  });
  fastify.setNotFoundHandler((_request, reply) => {
    metrics.errors.inc({ code: 'NOT_FOUND' });
    return reply.code(404).send(errorBody(new ApiError('NOT_FOUND')));
  });

  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Samizdat delivery server',
        version: '1',
        description:
          'Stores and relays only end-to-end encrypted envelopes. Authenticate with `Authorization: Basic base64("<accountId>.<deviceId>:<secret>")`. Errors are `{ code, message }` with the stable codes of docs/api.md.',
      },
    },
  });
  // The API description's pages carry the app's headers (web/static.ts) with a policy that fits swagger-ui.
  await fastify.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    uiHooks: {
      onRequest: (_request, reply, done) => {
        void reply.headers(SECURITY_HEADERS);
        done();
      },
    },
  });

  fastify.get('/health', { schema: { hide: true } }, async () => ({ status: ctx.closing ? 'closing' : 'ok', store: deps.repo.engine }));
  // Only with --metrics-token, and only for a request that carries it as a bearer token (compared in constant time).
  const metricsToken = config.metricsToken === undefined ? undefined : createHash('sha256').update(`Bearer ${config.metricsToken}`).digest();
  fastify.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (metricsToken === undefined) return reply.callNotFound();
    const given = createHash('sha256').update(request.headers.authorization ?? '').digest();
    if (!timingSafeEqual(given, metricsToken)) throw new ApiError('UNAUTHORIZED', 'GET /metrics needs the bearer token of --metrics-token.');
    metrics.queueDepth.set(await deps.repo.totalQueued());
    return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  registerAccountRoutes(fastify, ctx);
  registerDeviceRoutes(fastify, ctx);
  registerKeyRoutes(fastify, ctx);
  registerMessageRoutes(fastify, ctx, waiters);
  registerAttachmentRoutes(fastify, ctx);
  registerGroupRoutes(fastify, ctx, verifier);
  const issuer = await CertificateIssuer.create(ctx.crypto, deps.trustRoot ?? (await ctx.crypto.ed25519GenerateKeyPair()), ctx.now);
  registerCertificateRoutes(fastify, ctx, issuer);
  registerProfileRoutes(fastify, ctx);
  await registerWebApp(fastify);
  await fastify.ready();

  const websockets = attachWebSockets(fastify.server, ctx, waiters, deps.websocket);

  const sweep = async () => {
    try {
      const now = ctx.now();
      await deps.repo.deleteExpiredEnvelopes(now);
      for (const id of await deps.repo.deleteExpiredAttachments(now)) await deps.blobs.delete(id);
      await deps.repo.deleteExpiredLinkCodes(now);
      ctx.forgetIdleLimits(now);
      // What was acknowledged, expired or unregistered since the last sweep leaves the files too.
      await deps.repo.forget?.();
    } catch (err) {
      fastify.log.warn({ err: { type: (err as Error).name } }, 'expiry sweep failed');
    }
  };
  const sweeper = setInterval(() => void sweep(), SWEEP_INTERVAL_MS);
  sweeper.unref();
  await sweep();

  let closed: Promise<void> | undefined;
  return {
    fastify,
    ctx,
    websockets,
    close() {
      closed ??= (async () => {
        ctx.closing = true;
        ctx.shutdown.abort();
        clearInterval(sweeper);
        await websockets.close();
        // server.close() reaps the connections idle at that moment only; one busy then (a response still being
        // written, an upload) would stay open after it finishes, kept alive by the client, and hold the close for
        // the keep-alive timeout. Reap again until the server has closed.
        const reaper = setInterval(() => fastify.server.closeIdleConnections(), CLOSE_REAP_INTERVAL_MS);
        try {
          await fastify.close();
        } finally {
          clearInterval(reaper);
        }
        await verifier.close();
        await deps.bus.close();
        await deps.repo.close();
      })();
      return closed;
    },
  };
}
