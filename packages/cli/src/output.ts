/**
 * How the CLI talks back: results as JSON (`--json`, one object per line) or as text for people; errors as one
 * clear line on stderr (or a JSON object `{"error": {"code", "message"}}` with --json) and a non-zero exit code:
 *   2  bad arguments (usage)
 *   1  anything else (unknown user, server unreachable, not registered, a server refusal…)
 * Error text never contains message content, keys or the device secret.
 */
import { ClientError, ClientErrorCode } from '@samizdat/client';

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** A usage error: exit code 2. */
export function usage(message: string): CliError {
  return new CliError('BAD_ARGUMENTS', message, 2);
}

const SERVER_MESSAGES: Record<string, string> = {
  USERNAME_TAKEN: 'that username is taken; choose another',
  INVALID_USERNAME: 'usernames are 3–32 characters: letters, digits, "_" and ".", starting with a letter',
  UNAUTHORIZED: 'the server does not accept this device any more (was it removed?)',
  LINK_CODE_INVALID: 'the link code is wrong, used or expired; start "samizdat link" again',
  RATE_LIMITED: 'the server is rate-limiting this account; try again in a minute',
  ATTACHMENT_TOO_LARGE: 'the file is larger than the server accepts',
  TOO_MANY_DEVICES: 'the account already has the most devices the server allows',
  ACCOUNT_NOT_FOUND: 'no such account on the server',
  DEVICE_NOT_FOUND: 'no such device',
  QUEUE_FULL: 'the recipient has too many undelivered messages',
};

/** The code and human message for any error the CLI can meet. */
export function describeError(err: unknown): { code: string; message: string; exitCode: number } {
  if (err instanceof CliError) return { code: err.code, message: err.message, exitCode: err.exitCode };
  if (err instanceof ClientError) {
    if (err.code === ClientErrorCode.ServerError && err.server) {
      return { code: err.server.code, message: SERVER_MESSAGES[err.server.code] ?? `the server refused: ${err.message}`, exitCode: 1 };
    }
    if (err.code === ClientErrorCode.ServerUnreachable) {
      return { code: err.code, message: `cannot reach the server: ${err.message}`, exitCode: 1 };
    }
    return { code: err.code, message: err.message, exitCode: err.code === ClientErrorCode.InvalidArgument ? 2 : 1 };
  }
  return { code: 'INTERNAL', message: err instanceof Error ? `unexpected error: ${err.message}` : 'unexpected error', exitCode: 1 };
}

export class Output {
  constructor(readonly json: boolean) {}

  /** A result: the object as one JSON line with --json, else `text` (if any) for people. */
  result(value: unknown, text?: string): void {
    if (this.json) process.stdout.write(`${JSON.stringify(value)}\n`);
    else if (text !== undefined) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Information for people on stderr (kept off stdout so that scripts can read stdout). */
  info(text: string): void {
    process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  error(err: unknown): number {
    const { code, message, exitCode } = describeError(err);
    if (this.json) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
    process.stderr.write(`samizdat: ${message}\n`);
    return exitCode;
  }
}
