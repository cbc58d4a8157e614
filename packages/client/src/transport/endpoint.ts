/**
 * Where the server is and who we are to it: the server URL, derived HTTP and WebSocket URLs, device credentials and
 * the login they make (docs/api.md "Authentication"). Credentials are checked once here so that a malformed one is an
 * INVALID_ARGUMENT at construction time, never a confusing 401 later; messages never repeat the password.
 */
import { ACCOUNT_ID_PATTERN, MAX_DEVICE_ID } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../errors.js';

/** A device's login: `Authorization: Basic base64("<accountId>.<deviceId>:<password>")`, or the AUTH frame. */
export interface Credentials {
  /** 32 lowercase hex characters. */
  readonly accountId: string;
  /** 1–9999. */
  readonly deviceId: number;
  /** The device secret chosen at registration: base64url, 22–128 characters. */
  readonly password: string;
}

export const ACCOUNT_ID = ACCOUNT_ID_PATTERN;
export { MAX_DEVICE_ID };
const PASSWORD = /^[A-Za-z0-9_-]{22,128}$/;

export function isDeviceId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_DEVICE_ID;
}

export function checkAccountId(accountId: string, what = 'account id'): void {
  if (typeof accountId !== 'string' || !ACCOUNT_ID.test(accountId)) {
    throw new ClientError(ClientErrorCode.InvalidArgument, `${what} must be 32 lowercase hex characters`);
  }
}

export function checkDeviceId(deviceId: number, what = 'device id'): void {
  if (!isDeviceId(deviceId)) throw new ClientError(ClientErrorCode.InvalidArgument, `${what} must be an integer from 1 to ${MAX_DEVICE_ID}`);
}

export function checkCredentials(credentials: Credentials): void {
  checkAccountId(credentials.accountId);
  checkDeviceId(credentials.deviceId);
  if (typeof credentials.password !== 'string' || !PASSWORD.test(credentials.password)) {
    throw new ClientError(ClientErrorCode.InvalidArgument, 'the device password must be 22–128 base64url characters');
  }
}

/** `accountId.deviceId:password`: the AUTH frame's login and the Basic credentials. */
export function loginOf(credentials: Credentials): string {
  return `${credentials.accountId}.${credentials.deviceId}:${credentials.password}`;
}

/** The `Authorization` header value (the login is ASCII, so btoa is exact). */
export function basicAuthorization(credentials: Credentials): string {
  return `Basic ${btoa(loginOf(credentials))}`;
}

/**
 * A server base URL, checked: http or https, no query, fragment or credentials. A path is kept as a prefix (a server
 * behind a reverse proxy at https://example.org/samizdat/).
 */
export function parseServerUrl(serverUrl: string): URL {
  let url: URL;
  try {
    url = new URL(serverUrl);
  } catch {
    throw new ClientError(ClientErrorCode.InvalidArgument, 'the server URL is not a valid URL (expected http(s)://host[:port])');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ClientError(ClientErrorCode.InvalidArgument, 'the server URL must start with http:// or https://');
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new ClientError(ClientErrorCode.InvalidArgument, 'the server URL must not have a query, fragment or credentials');
  }
  return url;
}

/** `serverUrl` + `path` (which starts with "/"), over http(s). */
export function httpUrl(server: URL, path: string): string {
  return server.origin + server.pathname.replace(/\/+$/, '') + path;
}

/** The ws:// or wss:// URL of `path` on the server. */
export function webSocketUrl(server: URL, path: string): string {
  const origin = (server.protocol === 'https:' ? 'wss://' : 'ws://') + server.host;
  return origin + server.pathname.replace(/\/+$/, '') + path;
}
