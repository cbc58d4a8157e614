/**
 * The ceiling of bench/server: a bare `ws` relay — no authentication, no storage, no acknowledgements. A client
 * connects to ws://HOST:PORT/?id=<index>; every binary frame it sends is [u32 big-endian recipient index][payload]
 * and the relay forwards the payload, as one binary frame, to the socket of that index (dropped if there is none).
 *
 *   node bench/server/relay.mjs [--port P] [--host H]      # prints "relay listening on ws://H:P/"; SIGTERM stops it
 */
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';

const { values: args } = parseArgs({
  options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
});

/** @type {Map<number, import('ws').WebSocket>} */
const sockets = new Map();
const wss = new WebSocketServer({
  port: Number(args.port),
  host: args.host,
  perMessageDeflate: false,
  clientTracking: false,
  maxPayload: 64 * 1024,
});

wss.on('connection', (ws, req) => {
  const id = Number(new URL(req.url ?? '/', 'http://relay').searchParams.get('id'));
  if (!Number.isInteger(id) || id < 0) {
    ws.close(4000, 'bad id');
    return;
  }
  sockets.set(id, ws);
  ws.on('message', (data, isBinary) => {
    if (!isBinary || data.length < 4) return;
    const to = sockets.get(data.readUInt32BE(0));
    if (to !== undefined) to.send(data.subarray(4));
  });
  ws.on('close', () => {
    if (sockets.get(id) === ws) sockets.delete(id);
  });
  ws.on('error', () => undefined);
});

wss.on('listening', () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (wss.address());
  process.stdout.write(`relay listening on ws://${args.host}:${port}/\n`);
});

const stop = () => {
  for (const ws of sockets.values()) ws.terminate();
  wss.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
