/**
 * The progress of what a screen asked for, in one shape everywhere: which of its actions are under way (by name)
 * and the error of the last one that failed, as the sentence to show (errors.ts). A screen shows one error line, so
 * its actions share it: starting any of them clears it.
 *
 *   const actions = useActions();
 *   const outcome = await actions.run('rename', () => renameGroup(messenger, groupId, name));
 *   actions.pending.has('rename'); actions.error;
 */
import { useCallback, useMemo, useRef, useState } from 'react';
import { describeError } from './errors.js';
import type { ErrorContext } from './errors.js';

/** How one run ended (its failure is in `error`). */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false };

export interface ActionState {
  /** The names of the actions under way, in the order they started. */
  readonly pending: ReadonlySet<string>;
  /** Why the last action that failed did, for the user; cleared when another starts. */
  readonly error: string | undefined;
}

export interface Actions extends ActionState {
  /** Runs `work` as the action `name`; never rejects. */
  run<T>(name: string, work: () => Promise<T>, context?: ErrorContext): Promise<Outcome<T>>;
  /** Shows a failure found outside any action: a check before one, a screen's own load. */
  fail(reason: unknown): void;
  clear(): void;
}

export function useActions(): Actions {
  const [pending, setPending] = useState<ReadonlySet<string>>(() => new Set());
  const [error, setError] = useState<string>();
  // The same name may run twice at once (two quick clicks): it is pending until both end.
  const running = useRef(new Map<string, number>());

  const track = useCallback((name: string, delta: 1 | -1) => {
    const count = (running.current.get(name) ?? 0) + delta;
    if (count > 0) running.current.set(name, count);
    else running.current.delete(name);
    setPending(new Set(running.current.keys()));
  }, []);

  const run = useCallback(
    async <T>(name: string, work: () => Promise<T>, context?: ErrorContext): Promise<Outcome<T>> => {
      track(name, 1);
      setError(undefined);
      try {
        return { ok: true, value: await work() };
      } catch (err) {
        setError(describeError(err, context));
        return { ok: false };
      } finally {
        track(name, -1);
      }
    },
    [track],
  );
  const fail = useCallback((reason: unknown) => setError(typeof reason === 'string' ? reason : describeError(reason)), []);
  const clear = useCallback(() => setError(undefined), []);

  return useMemo(() => ({ pending, error, run, fail, clear }), [pending, error, run, fail, clear]);
}
