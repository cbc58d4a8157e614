/**
 * Typed errors of the client SDK. Every failure carries a stable `code` that callers (the CLI, the web client)
 * branch on and turn into a human message; the messages never contain message text, keys or secrets.
 */

import type { ServerErrorCode } from '@samizdat/protocol';

export const ClientErrorCode = {
  /** An argument is malformed or out of range (a programming error, or bad user input passed through). */
  InvalidArgument: 'INVALID_ARGUMENT',
  /** The server could not be reached (connection refused, DNS, proxy failure, timeout). */
  ServerUnreachable: 'SERVER_UNREACHABLE',
  /** The server answered with an error; `serverCode` holds its stable code (docs/api.md). */
  ServerError: 'SERVER_ERROR',
  /** The server's answer is not what the API promises (bad JSON, missing fields, wrong lengths). */
  BadResponse: 'BAD_RESPONSE',
  /** This profile has no account yet (register or link first). */
  NotRegistered: 'NOT_REGISTERED',
  /** This profile already holds an account. */
  AlreadyRegistered: 'ALREADY_REGISTERED',
  /** No account has that username. */
  UnknownUser: 'UNKNOWN_USER',
  /** Decrypted content is not a valid message of a version we speak. */
  InvalidContent: 'INVALID_CONTENT',
  /** An attachment failed its MAC or digest check, or is truncated. */
  AttachmentCorrupted: 'ATTACHMENT_CORRUPTED',
  /** A link code or provisioning message is malformed, or linking failed. */
  LinkFailed: 'LINK_FAILED',
  /** Stored data could not be read (corrupt database, newer schema). */
  StorageError: 'STORAGE_ERROR',
  /** The operation did not finish in the time allowed. */
  Timeout: 'TIMEOUT',
  /** The client was closed. */
  Closed: 'CLOSED',
  /** The account is blocked on this device: unblock it to write to it. */
  Blocked: 'BLOCKED',
  /** The send could not be sealed (no access to the recipient) and the user does not allow identified sends. */
  SealedSenderUnavailable: 'SEALED_SENDER_UNAVAILABLE',
} as const;

export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

export class ClientError extends Error {
  override readonly name = 'ClientError';

  constructor(
    readonly code: ClientErrorCode,
    message: string,
    /** For SERVER_ERROR: the server's stable error code, its HTTP status and any machine-readable details. */
    readonly server?: { readonly code: string; readonly status: number; readonly details?: Readonly<Record<string, unknown>> },
  ) {
    super(message);
  }

  /** True when `err` is a ClientError, and of `code` when one is given. */
  static is(err: unknown, code?: ClientErrorCode): err is ClientError {
    return err instanceof ClientError && (code === undefined || err.code === code);
  }

  /** True when `err` is a SERVER_ERROR with the server code `serverCode` (a code of the contract: a typo fails to compile). */
  static isServer(err: unknown, serverCode: ServerErrorCode): err is ClientError {
    return ClientError.is(err, ClientErrorCode.ServerError) && err.server?.code === serverCode;
  }
}
