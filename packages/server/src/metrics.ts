/**
 * Prometheus metrics (served at /metrics). Labels carry only route patterns, error codes and engine names —
 * never account ids, usernames or anything from a message.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly connections = new Gauge({
    name: 'samizdat_websocket_connections',
    help: 'Open authenticated WebSocket connections',
    registers: [this.registry],
  });
  readonly connectionsRefused = new Counter({
    name: 'samizdat_connections_refused_total',
    help: 'TCP connections closed on arrival: their address held maxConnectionsPerIp already',
    registers: [this.registry],
  });
  readonly messagesIn = new Counter({
    name: 'samizdat_envelopes_stored_total',
    help: 'Envelopes durably stored (one per recipient device)',
    registers: [this.registry],
  });
  readonly messagesOut = new Counter({
    name: 'samizdat_envelopes_delivered_total',
    help: 'Envelopes acknowledged by their recipient device',
    registers: [this.registry],
  });
  readonly pushed = new Counter({
    name: 'samizdat_envelopes_pushed_total',
    help: 'Envelopes pushed over WebSocket or returned by the fetch fallback (redeliveries included)',
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'samizdat_errors_total',
    help: 'Error responses by stable error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'samizdat_queue_depth',
    help: 'Undelivered envelopes in all device queues (sampled at scrape time)',
    registers: [this.registry],
  });
  readonly requestSeconds = new Histogram({
    name: 'samizdat_http_request_seconds',
    help: 'HTTP request duration by route pattern and status',
    labelNames: ['route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'samizdat_' });
  }
}
