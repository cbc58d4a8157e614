/** A small typed event emitter that runs in Node and browsers alike (no node:events). */
export type Listener<A extends unknown[]> = (...args: A) => void;

export class Emitter<Events extends { [K in keyof Events]: unknown[] }> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one map holds listeners of every event's signature
  private readonly listeners = new Map<keyof Events, Set<Listener<any[]>>>();

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(listener);
  }

  /** Calls every listener; a listener that throws does not stop the others or the emitter's caller. */
  emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        listener(...args);
      } catch {
        // A listener's failure is its own; the client's state is already stored.
      }
    }
  }
}
