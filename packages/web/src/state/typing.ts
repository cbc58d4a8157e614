/**
 * Telling the other side that the user is typing: "started" when they begin, repeated every TYPING_REPEAT_MS while
 * they go on, "stopped" once the box is empty, after TYPING_IDLE_MS without a key, on sending, or on leaving.
 * Failures are dropped: typing is a hint, never worth an error line.
 */
import { useCallback, useEffect, useRef } from 'react';
import type { Messenger } from './messenger.js';

const TYPING_REPEAT_MS = 4000;
const TYPING_IDLE_MS = 5000;

export interface TypingSender {
  /** The draft is now `text`. */
  typed(text: string): void;
  stop(): void;
}

export function useTypingSender(messenger: Messenger, peer: string): TypingSender {
  const state = useRef<{ startedAt: number; idle: ReturnType<typeof setTimeout> | undefined }>({ startedAt: 0, idle: undefined });
  const stop = useCallback(() => {
    const t = state.current;
    if (t.idle) clearTimeout(t.idle);
    t.idle = undefined;
    if (t.startedAt !== 0) {
      t.startedAt = 0;
      void messenger.client.sendTyping(peer, 'stopped').catch(() => undefined);
    }
  }, [messenger, peer]);
  useEffect(() => stop, [stop]);

  const typed = useCallback(
    (text: string) => {
      if (text === '') return stop();
      const t = state.current;
      const now = Date.now();
      if (now - t.startedAt > TYPING_REPEAT_MS) {
        t.startedAt = now;
        void messenger.client.sendTyping(peer, 'started').catch(() => undefined);
      }
      if (t.idle) clearTimeout(t.idle);
      t.idle = setTimeout(stop, TYPING_IDLE_MS);
    },
    [messenger, peer, stop],
  );
  return { typed, stop };
}
