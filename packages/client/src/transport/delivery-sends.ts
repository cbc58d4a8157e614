/**
 * The delivery socket's bookkeeping of what is in flight on one connection: the requests it sent (SEND, GROUP_SEND)
 * waiting for their answers, how a refusal over the socket becomes the very ClientError the HTTP route would give,
 * and the limits that keep a broken server from growing the client's memory.
 */
import type { ClientFrame, ServerFrame } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { WebSocketLike } from './connector.js';
import { isDeviceId } from './endpoint.js';
import type { ReceivedEnvelope } from './http-api.js';

/** Received envelopes waiting for a handler are bounded: the server's window is 64, so more means a broken server. */
export const MAX_UNHANDLED = 1024;
/** After "too many authentication attempts" (4029 or 429), wait at least this long. */
export const RATE_LIMITED_DELAY_MS = 10_000;
/** A request id is a varint of at most 32 bits (@samizdat/protocol wire/frames.ts); the counter wraps below 2^32. */
export const REQUEST_ID_LIMIT = 2 ** 32;
/**
 * The HTTP status PUT /v1/messages/:accountId and PUT /v1/groups/:groupId/messages answer each of their refusals with
 * (docs/api.md "Errors"), so that a refusal over the socket is the very ClientError the route would have caused.
 */
export const SEND_ERROR_STATUS: Readonly<Record<string, number>> = {
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 400,
  INVALID_ENVELOPE: 400,
  NOT_A_GROUP_MEMBER: 403,
  ACCOUNT_NOT_FOUND: 404,
  GROUP_NOT_FOUND: 404,
  DEVICE_LIST_MISMATCH: 409,
  PAYLOAD_TOO_LARGE: 413,
  ENVELOPE_TOO_LARGE: 413,
  QUEUE_FULL: 429,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  SHUTTING_DOWN: 503,
};

export type Work =
  | { readonly kind: 'envelope'; readonly connection: Connection; readonly received: ReceivedEnvelope }
  | { readonly kind: 'queue-empty'; readonly connection: Connection };

export interface Connection {
  readonly socket: WebSocketLike;
  ready: boolean;
  readyAt: number | undefined;
  readyTimer: ReturnType<typeof setTimeout> | undefined;
  /** Resolves when this connection is over (closed by either side, or given up on). */
  readonly ended: Promise<void>;
  end(): void;
}

export interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/** A request that sends, and the answer that confirms it (SEND_ERROR refuses either). */
export const SEND_ANSWER = { send: 'send-ok', 'group-send': 'group-send-ok' } as const;
export type SendRequest = Extract<ClientFrame, { kind: keyof typeof SEND_ANSWER }>;
export type SendAnswer = Extract<ServerFrame, { kind: (typeof SEND_ANSWER)[keyof typeof SEND_ANSWER] }>;
/** The confirming answer of a request of kind K. */
export type AnswerTo<K extends SendRequest['kind']> = Extract<SendAnswer, { kind: (typeof SEND_ANSWER)[K] }>;

/** How a request or an answer is named in error messages (the frame names of docs/api.md). */
export const FRAME_NAME: Readonly<Record<SendRequest['kind'] | SendAnswer['kind'], string>> = {
  send: 'SEND',
  'group-send': 'GROUP_SEND',
  'send-ok': 'SEND_OK',
  'group-send-ok': 'GROUP_SEND_OK',
};

/** How a request is named in error messages, beside HttpApi's route patterns: 'SEND on /v1/websocket'. */
export function routeOf(kind: SendRequest['kind']): string {
  return `${FRAME_NAME[kind]} on /v1/websocket`;
}

/**
 * A SEND or GROUP_SEND waiting for its answer, which can only come on the connection it went out on. One map holds
 * both: request ids are shared, and an answer of the other kind with this request id is not a confirmation.
 */
export interface PendingSend {
  readonly connection: Connection;
  /** The request, as error messages name it. */
  readonly route: string;
  readonly expects: SendAnswer['kind'];
  readonly timer: ReturnType<typeof setTimeout>;
  /** Settles with an answer of the `expects` kind (BAD_RESPONSE if it does not fit the request). */
  answer(frame: SendAnswer): void;
  reject(err: ClientError): void;
}

/** The error of a send that was not confirmed: retriable, and the server may or may not have stored it. */
export function notConfirmed(route: string, why: string): ClientError {
  return new ClientError(ClientErrorCode.ServerUnreachable, `${route}: not sent over the socket (${why})`);
}

/**
 * The ClientError HttpApi.sendMessages or HttpApi.sendGroupMessage throws for the same refusal (mismatchOf reads the
 * device lists of a DEVICE_LIST_MISMATCH).
 */
export function refusalOf(route: string, frame: Extract<ServerFrame, { kind: 'send-error' }>): ClientError {
  const { code } = frame;
  const details: Record<string, unknown> = {};
  if (code === 'DEVICE_LIST_MISMATCH') {
    for (const name of ['missingDevices', 'extraDevices', 'staleDevices'] as const) {
      const list = frame[name];
      if (!list.every(isDeviceId)) return new ClientError(ClientErrorCode.BadResponse, `${route}: the server's answer has a malformed ${name}`);
      details[name] = [...list];
    }
  }
  if (frame.retryAfter > 0) details.retryAfter = frame.retryAfter;
  // A code this client does not know is still a refusal of this request.
  const status = SEND_ERROR_STATUS[code] ?? 400;
  // The server's own message text is not repeated (it could echo anything back), as over HTTP.
  return new ClientError(ClientErrorCode.ServerError, `${route}: the server refused with ${code}`, { code, status, details });
}
