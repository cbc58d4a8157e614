import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ApiError, ERRORS, errorBody } from '../src/errors.js';
import type { ErrorCode } from '../src/errors.js';

const API_DOC = new URL('../../../docs/api.md', import.meta.url);

/** The rows of the error table in docs/api.md: code → status. */
function documentedErrors(): Map<string, number> {
  const section = readFileSync(API_DOC, 'utf8').split('## Errors')[1] ?? '';
  const rows = new Map<string, number>();
  for (const match of section.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \| (\d{3}) \|/gm)) rows.set(match[1] as string, Number(match[2]));
  return rows;
}

describe('error codes', () => {
  it('are all documented in docs/api.md with their status, and the docs list no others', () => {
    const documented = documentedErrors();
    const defined = new Map(Object.entries(ERRORS).map(([code, { status }]) => [code, status]));
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(defined));
  });

  it('give every ApiError its status and a body with the code and safe details only', () => {
    for (const code of Object.keys(ERRORS) as ErrorCode[]) {
      const err = new ApiError(code);
      expect(err.status).toBe(ERRORS[code].status);
      expect(ApiError.is(err, code)).toBe(true);
      expect(errorBody(err)).toEqual({ code, message: ERRORS[code].message });
    }
    const mismatch = new ApiError('DEVICE_LIST_MISMATCH', undefined, { missingDevices: [2], extraDevices: [], staleDevices: [] });
    expect(errorBody(mismatch)).toMatchObject({ code: 'DEVICE_LIST_MISMATCH', missingDevices: [2] });
    expect(ApiError.is(new Error('x'))).toBe(false);
    expect(ApiError.is(mismatch, 'QUEUE_FULL')).toBe(false);
  });
});
