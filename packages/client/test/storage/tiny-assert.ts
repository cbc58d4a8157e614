/**
 * The few assertions the ClientStore conformance cases need, with no test framework behind them, so that the same
 * cases run under vitest in Node and inside a browser page. Deep equality is strict on purpose: a property that is
 * present with the value undefined is not the same as an absent one, and bytes must be plain Uint8Arrays.
 */

export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Throws unless `actual` and `expected` are deeply equal (see `difference`). */
export function assertEqual(actual: unknown, expected: unknown, what: string): void {
  const diff = difference(actual, expected, '');
  if (diff !== undefined) {
    throw new AssertionError(`${what}: ${diff}\n  actual:   ${show(actual)}\n  expected: ${show(expected)}`);
  }
}

/** Awaits `promise` and throws unless it rejects with an error whose `code` is `code` (when one is given). */
export async function assertRejects(promise: Promise<unknown>, code: string | undefined, what: string): Promise<unknown> {
  let settled: { ok: true } | { ok: false; err: unknown };
  try {
    await promise;
    settled = { ok: true };
  } catch (err) {
    settled = { ok: false, err };
  }
  if (settled.ok) throw new AssertionError(`${what}: expected a rejection, but it resolved`);
  const actualCode = (settled.err as { code?: unknown } | null)?.code;
  if (code !== undefined && actualCode !== code) {
    throw new AssertionError(`${what}: expected an error with code ${code}, got ${String(actualCode)} (${String(settled.err)})`);
  }
  return settled.err;
}

/** Where `actual` differs from `expected` (a path and a reason), or undefined when they are equal. */
export function difference(actual: unknown, expected: unknown, path: string): string | undefined {
  const at = path === '' ? 'the value' : path;
  if (expected instanceof Uint8Array) {
    if (!(actual instanceof Uint8Array)) return `${at} should be a Uint8Array, got ${typeName(actual)}`;
    if (Object.getPrototypeOf(actual) !== Uint8Array.prototype) return `${at} should be a plain Uint8Array, got ${typeName(actual)}`;
    if (actual.length !== expected.length) return `${at} has ${actual.length} bytes, expected ${expected.length}`;
    for (let i = 0; i < actual.length; i++) {
      if (actual[i] !== expected[i]) return `${at} differs at byte ${i}`;
    }
    return undefined;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${at} should be an array, got ${typeName(actual)}`;
    if (actual.length !== expected.length) return `${at} has ${actual.length} elements, expected ${expected.length}`;
    for (let i = 0; i < expected.length; i++) {
      const d = difference(actual[i], expected[i], `${path}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual) || actual instanceof Uint8Array) {
      return `${at} should be an object, got ${typeName(actual)}`;
    }
    const actualKeys = Object.keys(actual).sort();
    const expectedKeys = Object.keys(expected).sort();
    for (const key of actualKeys) {
      if (!expectedKeys.includes(key)) return `${path}.${key} should be absent`;
    }
    for (const key of expectedKeys) {
      if (!actualKeys.includes(key)) return `${path}.${key} is missing`;
      const d = difference((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key], `${path}.${key}`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  return Object.is(actual, expected) ? undefined : `${at} is ${show(actual)}, expected ${show(expected)}`;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return (value as object).constructor?.name ?? 'object';
}

/** A short rendering for failure messages; bytes as their length and first bytes in hex. */
function show(value: unknown): string {
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Uint8Array) {
      const hex = Array.from(v.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join('');
      return `<${v.length} bytes ${hex}${v.length > 8 ? '…' : ''}>`;
    }
    return v === undefined ? '<undefined>' : v;
  });
  if (text === undefined) return String(value);
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}
