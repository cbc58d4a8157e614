/**
 * The server's error codes (docs/api.md "Errors") as one union, with the machine-readable details some of them
 * carry. The server's table of codes must have exactly these (it is typed against this list), and the client's
 * `ClientError.isServer(err, code)` takes a ServerErrorCode, so a misspelled code is a compile error on both sides.
 */
export const SERVER_ERROR_CODES = [
  'BAD_REQUEST',
  'INVALID_JSON',
  'VALIDATION_FAILED',
  'INVALID_BASE64',
  'INVALID_KEY',
  'BAD_SIGNATURE',
  'INVALID_USERNAME',
  'INVALID_ENVELOPE',
  'UNAUTHORIZED',
  'INVALID_ACCESS_KEY',
  'INVALID_GROUP_SEND_KEY',
  'FORBIDDEN',
  'NOT_FOUND',
  'ACCOUNT_NOT_FOUND',
  'PROFILE_NOT_FOUND',
  'DEVICE_NOT_FOUND',
  'ATTACHMENT_NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'USERNAME_TAKEN',
  'DEVICE_LIST_MISMATCH',
  'LINK_CODE_INVALID',
  'PAYLOAD_TOO_LARGE',
  'ENVELOPE_TOO_LARGE',
  'ATTACHMENT_TOO_LARGE',
  'QUOTA_EXCEEDED',
  'UNSUPPORTED_MEDIA_TYPE',
  'QUEUE_FULL',
  'REQUEST_TIMEOUT',
  'RATE_LIMITED',
  'PREKEYS_EXHAUSTED',
  'TOO_MANY_DEVICES',
  'GROUP_NOT_FOUND',
  'GROUP_EXISTS',
  'STALE_EPOCH',
  'INVALID_COMMIT',
  'INVALID_GROUP_INFO',
  'GROUP_TOO_LARGE',
  'NOT_A_GROUP_MEMBER',
  'SHUTTING_DOWN',
  'SERVER_BUSY',
  'INTERNAL',
] as const;

export type ServerErrorCode = (typeof SERVER_ERROR_CODES)[number];

/** DEVICE_LIST_MISMATCH (409): how the send's devices differ from the account's current ones. */
export interface DeviceListMismatchDetails {
  readonly missingDevices: readonly number[];
  readonly extraDevices: readonly number[];
  /** Listed with a registration id the device no longer has (it re-registered). */
  readonly staleDevices: readonly number[];
}

/** STALE_EPOCH (409): the epoch the group is at now. */
export interface StaleEpochDetails {
  readonly epoch: number;
}

/** RATE_LIMITED (429): seconds until a retry may succeed (also the Retry-After header). */
export interface RateLimitedDetails {
  readonly retryAfter: number;
}

/** QUOTA_EXCEEDED (413): which quota, and its limit. */
export interface QuotaExceededDetails {
  readonly quota: 'attachments' | 'attachmentBytes' | 'groups';
  readonly limit: number;
}

/** The details each code carries (none for the others). */
export interface ServerErrorDetails {
  readonly DEVICE_LIST_MISMATCH: DeviceListMismatchDetails;
  readonly STALE_EPOCH: StaleEpochDetails;
  readonly RATE_LIMITED: RateLimitedDetails;
  readonly QUOTA_EXCEEDED: QuotaExceededDetails;
}

export function isServerErrorCode(value: unknown): value is ServerErrorCode {
  return typeof value === 'string' && (SERVER_ERROR_CODES as readonly string[]).includes(value);
}
