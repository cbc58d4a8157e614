/** Refusing a WebSocket upgrade before it is accepted: a plain HTTP error response, then the socket is destroyed. */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError, errorBody } from '../errors.js';

/**
 * Answers the upgrade request with the same JSON error body as every HTTP route (`{ code, message }`) and destroys
 * the socket once the response is written (at once if it cannot be).
 */
export function rejectUpgrade(socket: Duplex, error: ApiError, headers: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(errorBody(error));
  const lines = [
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.once('finish', () => socket.destroy());
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
  // A peer that never reads must not hold the socket open.
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** The error to answer an upgrade with when authentication or storage throws. */
export function upgradeError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError('INTERNAL');
}
