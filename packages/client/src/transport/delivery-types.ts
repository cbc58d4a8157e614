/** The delivery socket's public shapes: its states, options and counters (delivery-socket.ts). */
import type { Connector } from './connector.js';
import type { Credentials } from './endpoint.js';
import type { ReceivedEnvelope } from './http-api.js';

export type DeliveryState =
  /** Constructed, start() not called yet. */
  | 'idle'
  /** Opening the socket and waiting for READY. */
  | 'connecting'
  /** READY received: envelopes flow. */
  | 'open'
  /** Disconnected; the next attempt is scheduled. */
  | 'backoff'
  /** close() was called. */
  | 'closed'
  /** Final: the server refused the credentials (4001 or 401). */
  | 'unauthorized'
  /** Final: another connection of this device opened (4002); reconnecting would only fight over the device. */
  | 'replaced'
  /** Final: this device or its account was removed (4003). */
  | 'removed';

export const FINAL_STATES: ReadonlySet<DeliveryState> = new Set(['closed', 'unauthorized', 'replaced', 'removed']);

export interface ReconnectOptions {
  /** First delay after a disconnect. Default 500 ms. */
  readonly initialDelayMs?: number;
  /** The delay doubles up to this. Default 30 s. */
  readonly maxDelayMs?: number;
  /** A connection that stayed open this long resets the delay to the initial one. Default 10 s. */
  readonly stableAfterMs?: number;
}

export interface DeliverySocketOptions {
  readonly connector: Connector;
  readonly serverUrl: string;
  readonly credentials: Credentials;
  /**
   * Each envelope, one at a time in arrival order; the next waits for the returned promise. Acknowledge with ack(id)
   * once the envelope is safely handled. If it throws, `onError` hears of it and the envelope stays unacknowledged.
   */
  readonly onEnvelope: (received: ReceivedEnvelope) => Promise<void> | void;
  /** The server has sent everything that was queued when this connection opened, and all of it has been handled. */
  readonly onQueueEmpty?: () => void;
  readonly onState?: (state: DeliveryState) => void;
  /** An exception from onEnvelope or onQueueEmpty (the socket carries on). */
  readonly onError?: (err: unknown) => void;
  readonly reconnect?: ReconnectOptions;
  /** How long a connection may take to become READY before it is dropped and retried. Default 20 s. */
  readonly readyTimeoutMs?: number;
  /** Acks are sent this long after the first unsent one (one frame for a burst). Default 10 ms. */
  readonly ackDelayMs?: number;
  /** How long close() waits for the server to confirm the close. Default 3 s. */
  readonly closeTimeoutMs?: number;
  /** How long a send() or sendGroup() waits for its answer. Default 30 s (HttpApi's request timeout). */
  readonly sendTimeoutMs?: number;
}

export interface DeliveryStats {
  /** Sockets opened (first connection and reconnections). */
  readonly connections: number;
  /** Frames that did not decode or came out of place (ignored). */
  readonly badFrames: number;
  /** ERROR frames received (e.g. UNKNOWN_ENVELOPE_ACK for an envelope acked twice). */
  readonly errorFrames: number;
  /** Sends the server confirmed (SEND_OK or GROUP_SEND_OK). */
  readonly sent: number;
}
