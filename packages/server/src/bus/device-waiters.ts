/**
 * Local listeners for "new envelopes for device X" (fed by the bus, whichever node stored them): long-poll fetches
 * and WebSocket connections wait here instead of polling the database.
 */
import type { DeviceRef, MessageBus, StoredEnvelopes } from './bus.js';

const key = (d: DeviceRef) => `${d.accountId}.${d.deviceId}`;

export class DeviceWaiters {
  private readonly listeners = new Map<string, Set<(stored: StoredEnvelopes | undefined) => void>>();

  constructor(bus: MessageBus) {
    bus.onQueued((device, stored) => {
      const set = this.listeners.get(key(device));
      if (set) for (const listener of [...set]) listener(stored);
    });
  }

  /**
   * Calls `listener` on every wake-up of `device` until the returned function is called, with the envelopes that
   * were stored when the bus carries them (see MessageBus.onQueued), else undefined.
   */
  subscribe(device: DeviceRef, listener: (stored: StoredEnvelopes | undefined) => void): () => void {
    const k = key(device);
    let set = this.listeners.get(k);
    if (!set) this.listeners.set(k, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(k);
    };
  }

  /** Resolves true on the next wake-up of `device`, false after `timeoutMs` or when `signal` aborts. */
  wait(device: DeviceRef, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      if (signal?.aborted) {
        resolve(false);
        return;
      }
      let done = false;
      const finish = (woken: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        unsubscribe();
        signal?.removeEventListener('abort', onAbort);
        resolve(woken);
      };
      const onAbort = () => finish(false);
      const unsubscribe = this.subscribe(device, () => finish(true));
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
