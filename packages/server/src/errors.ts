/**
 * Every error the server answers with: a stable string code, its HTTP status and a human message. Clients and tests
 * branch on `code`; the table is the API reference's error list (docs/api.md). 5xx bodies never carry internals.
 */

import type { ServerErrorCode } from '@samizdat/protocol';

export const ERRORS = {
  BAD_REQUEST: { status: 400, message: 'The request is malformed.' },
  INVALID_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  VALIDATION_FAILED: { status: 400, message: 'The request does not match the schema of this route.' },
  INVALID_BASE64: { status: 400, message: 'A field that must be base64 is not.' },
  INVALID_KEY: { status: 400, message: 'A key has the wrong length or encoding.' },
  BAD_SIGNATURE: { status: 400, message: 'A prekey signature does not verify against the identity key.' },
  INVALID_USERNAME: { status: 400, message: 'Usernames are 3–32 characters: letters, digits, "_" and ".", starting with a letter.' },
  INVALID_ENVELOPE: { status: 400, message: 'An envelope could not be decoded.' },
  UNAUTHORIZED: { status: 401, message: 'Missing or wrong credentials.' },
  INVALID_GROUP_SEND_KEY: { status: 401, message: 'A sealed group send needs the group’s send key for its current epoch: it is missing, wrong or from another epoch, or there is no such group.' },
  INVALID_ACCESS_KEY: { status: 401, message: 'A sealed send needs the recipient’s access key: it is missing or wrong, or no such account takes sealed envelopes.' },
  FORBIDDEN: { status: 403, message: 'This device may not do that.' },
  NOT_FOUND: { status: 404, message: 'No such resource.' },
  ACCOUNT_NOT_FOUND: { status: 404, message: 'No such account.' },
  PROFILE_NOT_FOUND: { status: 404, message: 'No profile with this version: the account has none, or another profile key.' },
  DEVICE_NOT_FOUND: { status: 404, message: 'No such device.' },
  ATTACHMENT_NOT_FOUND: { status: 404, message: 'No such attachment, or it has expired.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed on this route.' },
  USERNAME_TAKEN: { status: 409, message: 'That username is taken.' },
  DEVICE_LIST_MISMATCH: { status: 409, message: 'The message does not address exactly the current devices of the account.' },
  LINK_CODE_INVALID: { status: 403, message: 'The device link code is wrong, used or expired.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is larger than this route accepts.' },
  ENVELOPE_TOO_LARGE: { status: 413, message: 'An envelope is larger than the server accepts.' },
  ATTACHMENT_TOO_LARGE: { status: 413, message: 'The attachment is larger than the server accepts.' },
  QUOTA_EXCEEDED: { status: 413, message: 'The account has used its storage quota for this; nothing was stored.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported content type.' },
  QUEUE_FULL: { status: 429, message: 'The recipient device has too many undelivered messages.' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request did not arrive whole in time; the connection is closed.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests; retry later.' },
  PREKEYS_EXHAUSTED: { status: 404, message: 'The device has no signed prekeys to hand out.' },
  TOO_MANY_DEVICES: { status: 409, message: 'The account has the maximum number of devices.' },
  GROUP_NOT_FOUND: { status: 404, message: 'No such group.' },
  GROUP_EXISTS: { status: 409, message: 'A group with this id exists.' },
  STALE_EPOCH: { status: 409, message: 'The group has moved to another epoch: process its commits, then retry.' },
  INVALID_COMMIT: { status: 400, message: 'The commit does not verify against the group as the server holds it; nothing was changed.' },
  INVALID_GROUP_INFO: { status: 400, message: 'The GroupInfo does not verify as a new group of this device alone.' },
  GROUP_TOO_LARGE: { status: 403, message: 'The group would have more members than this server allows.' },
  NOT_A_GROUP_MEMBER: { status: 403, message: 'This device is not a member of the group.' },
  SHUTTING_DOWN: { status: 503, message: 'The server is shutting down; retry shortly.' },
  SERVER_BUSY: { status: 503, message: 'The server is verifying too many group changes at once; retry in a few seconds.' },
  INTERNAL: { status: 500, message: 'Internal server error.' },
} as const satisfies Record<ServerErrorCode, { status: number; message: string }>;

/** Exactly the codes of the contract (@samizdat/protocol api/errors.ts): a code missing here, or extra, fails to compile. */
export type ErrorCode = ServerErrorCode;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message?: string,
    /** Machine-readable details that are safe to show the caller (never secrets or internals). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message ?? ERRORS[code].message);
    this.status = ERRORS[code].status;
  }

  static is(err: unknown, code?: ErrorCode): err is ApiError {
    return err instanceof ApiError && (code === undefined || err.code === code);
  }
}

/** QUOTA_EXCEEDED for a store's quota error, with which quota and its limit (the caller's own account's: safe to show). */
export function quotaError(err: { readonly quota: string; readonly limit: number; readonly message: string }): ApiError {
  return new ApiError('QUOTA_EXCEEDED', err.message, { quota: err.quota, limit: err.limit });
}

/** The JSON body of every error response. */
export interface ErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
  readonly [detail: string]: unknown;
}

export function errorBody(err: ApiError): ErrorBody {
  return { code: err.code, message: err.message, ...err.details };
}
