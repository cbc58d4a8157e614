/**
 * The provisioning socket of a device being linked (docs/api.md, /v1/provisioning/websocket): unauthenticated; the
 * server names a one-use address (PROVISIONING_ADDRESS), then relays the one end-to-end encrypted message an existing
 * device PUTs to that address (PROVISIONING_MESSAGE) and closes. An unused socket expires after 10 minutes (4008).
 *
 *   const socket = await openProvisioningSocket(connector, serverUrl);
 *   showQrCode(socket.address, ephemeralPublicKey);
 *   const sealed = await socket.message;       // ClientError LINK_FAILED when it expired first
 */
import { CloseCode, decodeServerFrame } from '@samizdat/protocol';
import type { ServerFrame } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { Connector, WebSocketClose, WebSocketLike } from './connector.js';
import { parseServerUrl, webSocketUrl } from './endpoint.js';

export interface ProvisioningSocket {
  /** The one-use address to give the existing device (43 base64url characters). */
  readonly address: string;
  /**
   * The encrypted provisioning message. Rejects with ClientError LINK_FAILED when the socket expires first (4008),
   * CLOSED after close(), SERVER_UNREACHABLE when the connection is lost.
   */
  readonly message: Promise<Uint8Array>;
  /** Closes the socket (the address stops working); a pending `message` rejects with CLOSED. */
  close(): void;
}

export interface ProvisioningSocketOptions {
  /** How long to wait for the address. Default 30 s. */
  readonly timeoutMs?: number;
}

/** Opens the socket and resolves once the server has named the address. */
export function openProvisioningSocket(
  connector: Connector,
  serverUrl: string,
  options: ProvisioningSocketOptions = {},
): Promise<ProvisioningSocket> {
  return new Promise((resolveOpen, rejectOpen) => {
    // Inside the executor: a malformed URL rejects (INVALID_ARGUMENT) instead of throwing synchronously.
    const url = webSocketUrl(parseServerUrl(serverUrl), '/v1/provisioning/websocket');
    let address: string | undefined;
    let settled = false;
    let closedByUs = false;
    let resolveMessage!: (body: Uint8Array) => void;
    let rejectMessage!: (err: unknown) => void;
    const message = new Promise<Uint8Array>((resolve, reject) => {
      resolveMessage = resolve;
      rejectMessage = reject;
    });
    // A caller that gives up on linking need not await `message`: its rejection must not be reported as unhandled.
    message.catch(() => undefined);

    let socket: WebSocketLike;
    try {
      socket = connector.openWebSocket(url);
    } catch {
      rejectOpen(new ClientError(ClientErrorCode.ServerUnreachable, 'cannot open the provisioning socket'));
      return;
    }
    const timer = setTimeout(() => {
      if (address !== undefined) return;
      closedByUs = true;
      socket.close(1000, 'timeout');
      rejectOpen(new ClientError(ClientErrorCode.ServerUnreachable, 'the server did not name a provisioning address in time'));
    }, options.timeoutMs ?? 30_000);

    const close = (): void => {
      closedByUs = true;
      socket.close(1000, 'closed');
      if (!settled) {
        settled = true;
        rejectMessage(new ClientError(ClientErrorCode.Closed, 'the provisioning socket was closed'));
      }
    };

    socket.onmessage = (data) => {
      let frame: ServerFrame;
      try {
        if (typeof data === 'string') return;
        frame = decodeServerFrame(data);
      } catch {
        return; // ignored, like any frame out of place
      }
      if (frame.kind === 'provisioning-address' && address === undefined) {
        address = frame.address;
        clearTimeout(timer);
        resolveOpen({ address, message, close });
      } else if (frame.kind === 'provisioning-message' && address !== undefined && !settled) {
        settled = true;
        resolveMessage(frame.body);
        closedByUs = true;
        socket.close(1000, 'received');
      }
    };

    socket.onclose = (event: WebSocketClose) => {
      clearTimeout(timer);
      if (address === undefined) {
        if (!closedByUs) rejectOpen(openError(event));
        return;
      }
      if (settled) return;
      settled = true;
      if (event.code === CloseCode.ProvisioningExpired) {
        rejectMessage(new ClientError(ClientErrorCode.LinkFailed, 'the link expired before the other device sent its message'));
      } else {
        rejectMessage(new ClientError(ClientErrorCode.ServerUnreachable, `the provisioning socket closed (code ${event.code}) before a message arrived`));
      }
    };
  });
}

function openError(event: WebSocketClose): ClientError {
  if (event.status !== undefined && event.serverCode !== undefined) {
    return new ClientError(ClientErrorCode.ServerError, `the server refused the provisioning socket with ${event.serverCode}`, {
      code: event.serverCode,
      status: event.status,
    });
  }
  return new ClientError(ClientErrorCode.ServerUnreachable, `cannot open the provisioning socket (code ${event.code})`);
}
