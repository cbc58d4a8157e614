/**
 * What the page says when something fails: the one place where an error (a ClientError's code, a server error code,
 * or a sentence of the page's own) becomes the sentence the user reads. Never message text or keys: the SDK's
 * messages carry neither.
 */
import { ClientError, ClientErrorCode } from '@samizdat/client';

/** What was being done, when that changes the sentence. */
export type ErrorContext =
  /** Fetching an attachment: offline and tampering read as what they mean for that file. */
  | { readonly kind: 'download' }
  /** Looking up a username the user typed (to add to a group). */
  | { readonly kind: 'lookup'; readonly username: string };

/** A sentence for the user about what went wrong. */
export function describeError(err: unknown, context?: ErrorContext): string {
  if (context?.kind === 'download') {
    if (ClientError.is(err, ClientErrorCode.ServerUnreachable)) return 'Not available offline: it is fetched when the connection returns.';
    if (ClientError.is(err, ClientErrorCode.AttachmentCorrupted)) return 'This file was altered or damaged on the way; it is not shown.';
  }
  if (context?.kind === 'lookup' && ClientError.is(err, ClientErrorCode.UnknownUser)) return `No one has the username “${context.username}”.`;
  if (ClientError.is(err)) {
    switch (err.code) {
      case ClientErrorCode.ServerUnreachable:
        return 'The server cannot be reached. Check the connection and try again.';
      case ClientErrorCode.UnknownUser:
        return 'No one has that username.';
      case ClientErrorCode.LinkFailed:
        return 'Linking failed. Start again with a new code.';
      case ClientErrorCode.Blocked:
        return 'You blocked this person. Unblock them to write to them.';
      case ClientErrorCode.InvalidArgument:
      case ClientErrorCode.Timeout:
        return sentence(err.message);
      case ClientErrorCode.ServerError:
        switch (err.server?.code) {
          case 'USERNAME_TAKEN':
            return 'That username is taken. Pick another one.';
          case 'INVALID_USERNAME':
            return 'Usernames are 3–32 letters, digits, "_" or ".", starting with a letter.';
          case 'LINK_CODE_INVALID':
            return 'That code is wrong, used or expired. Ask the new device for a fresh one.';
          case 'TOO_MANY_DEVICES':
            return 'This account already has the most devices it may have. Remove one first.';
          case 'RATE_LIMITED':
            return 'Too many requests. Wait a moment and try again.';
          case 'ATTACHMENT_TOO_LARGE':
            return 'That file is larger than the server accepts.';
          case 'NOT_A_GROUP_MEMBER':
            return 'This browser is no longer in that group.';
          case 'GROUP_NOT_FOUND':
            return 'The server does not know that group.';
          default:
            return err.message;
        }
      default:
        return err.message;
    }
  }
  return err instanceof Error ? err.message : String(err);
}

/** The SDK's messages are clauses ("nobody to add: …"): shown as a sentence. */
function sentence(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return 'Something went wrong.';
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}
