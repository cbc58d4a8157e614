/** @samizdat/server — the delivery server as a library (buildApp) and its pieces, for tests and embedding. */
export { buildApp } from './app.js';
export type { App, AppDeps } from './app.js';
export { resolveConfig, ConfigError, DEFAULT_LIMITS } from './config.js';
export type { Config, Limits } from './config.js';
export { ERRORS, ApiError } from './errors.js';
export type { ErrorCode } from './errors.js';
export type * from './store/repository.js';
export { openRepository } from './store/open-repository.js';
export { LocalBlobStore } from './blobs/blob-store.js';
export { LocalBus } from './bus/bus.js';
export type { MessageBus } from './bus/bus.js';
export { NatsBus } from './bus/nats-bus.js';
export type { NatsBusOptions } from './bus/nats-bus.js';
export type { WebSocketEndpoints, WebSocketOptions } from './websocket/upgrade-handler.js';
