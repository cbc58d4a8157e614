/**
 * The fetch plumbing under HttpApi: one request with its authorization, timeout and caller's signal; a streamed
 * body read with a size limit and progress; and the mapping of every failure onto a ClientError (no answer →
 * SERVER_UNREACHABLE, an error body → SERVER_ERROR with the server's code and details, anything else the API does
 * not promise → BAD_RESPONSE). Error messages name the route pattern, never a URL, a password or the bytes.
 */
import { concatBytes } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { Connector } from './connector.js';
import type { Credentials } from './endpoint.js';
import { basicAuthorization, httpUrl, isDeviceId } from './endpoint.js';
import {
  Fields,
  MAX_ERROR_BYTES,
  MAX_JSON_BYTES,
  badResponse,
  contentLength,
  errorCodeOf,
  isObject,
  ERROR_CODE,
} from './api-checks.js';
import type { ProgressCallback } from './api-types.js';

export interface RequestSpec {
  /** The route pattern, for error messages: "PUT /v1/messages/:accountId". */
  readonly route: string;
  readonly method: string;
  readonly path: string;
  readonly auth: boolean;
  /** More request headers (never credentials: those come from `auth`). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly json?: unknown;
  readonly body?: Uint8Array;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal | undefined;
  readonly onUploadProgress?: (sent: number) => void;
}

/** One request in flight: the response and the signals that explain a failure while reading it. */
export interface Exchange {
  readonly response: Response;
  readonly timeout: AbortSignal;
  readonly caller: AbortSignal | undefined;
}

export class HttpExchange {
  constructor(
    private readonly connector: Connector,
    private readonly server: URL,
    private readonly timeoutMs: number,
    readonly credentials: Credentials | undefined,
  ) {}

  requireCredentials(route: string): Credentials {
    if (!this.credentials) throw new ClientError(ClientErrorCode.NotRegistered, `${route} needs a registered device`);
    return this.credentials;
  }

  /** Sends a request; resolves with a 2xx response, or throws the mapped ClientError. */
  async exchange(spec: RequestSpec): Promise<Exchange> {
    const headers: Record<string, string> = { ...spec.headers, accept: 'application/json' };
    if (spec.auth) headers.authorization = basicAuthorization(this.requireCredentials(spec.route));
    let body: Uint8Array | string | undefined;
    if (spec.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(spec.json);
    } else if (spec.body !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      body = spec.body;
    }
    const timeout = AbortSignal.timeout(spec.timeoutMs ?? this.timeoutMs);
    const caller = spec.signal;
    let response: Response;
    try {
      caller?.throwIfAborted();
      response = await this.connector.fetch(httpUrl(this.server, spec.path), {
        method: spec.method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: caller ? AbortSignal.any([timeout, caller]) : timeout,
        ...(spec.onUploadProgress ? { onUploadProgress: spec.onUploadProgress } : {}),
      });
    } catch (err) {
      throw this.networkError(spec.route, err, timeout, caller);
    }
    const exchange = { response, timeout, caller };
    if (response.status < 200 || response.status > 299) throw await this.errorOf(spec.route, exchange);
    return exchange;
  }

  async json(spec: RequestSpec): Promise<Fields> {
    const exchange = await this.exchange(spec);
    const bytes = await this.readBytes(spec.route, exchange, MAX_JSON_BYTES);
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch {
      throw badResponse(spec.route, 'is not JSON');
    }
    return Fields.of(spec.route, value);
  }

  async noContent(spec: RequestSpec): Promise<void> {
    const exchange = await this.exchange(spec);
    // Drained so that the connection can be reused; a 204 has no body to read.
    await this.readBytes(spec.route, exchange, MAX_ERROR_BYTES);
  }

  /** The whole body, refusing (BAD_RESPONSE) one longer than `maxBytes` as soon as it shows. */
  async readBytes(route: string, exchange: Exchange, maxBytes: number, onProgress?: ProgressCallback): Promise<Uint8Array> {
    const { response } = exchange;
    const total = contentLength(response);
    const tooLarge = (): ClientError => badResponse(route, `is larger than the ${maxBytes} bytes allowed`);
    if (total !== undefined && total > maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw tooLarge();
    }
    if (!response.body) return new Uint8Array(0);
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let length = 0;
    onProgress?.(0, total ?? 0);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        length += value.length;
        if (length > maxBytes) {
          await reader.cancel().catch(() => undefined);
          throw tooLarge();
        }
        chunks.push(value);
        onProgress?.(length, total ?? length);
      }
    } catch (err) {
      throw this.networkError(route, err, exchange.timeout, exchange.caller);
    }
    if (total !== undefined && length !== total) throw badResponse(route, 'is shorter than its content-length');
    return chunks.length === 1 ? (chunks[0] as Uint8Array) : concatBytes(...chunks);
  }

  networkError(route: string, err: unknown, timeout: AbortSignal, caller: AbortSignal | undefined): ClientError {
    if (ClientError.is(err)) return err;
    if (caller?.aborted) return new ClientError(ClientErrorCode.Closed, `${route} was cancelled`);
    if (timeout.aborted) return new ClientError(ClientErrorCode.ServerUnreachable, `${route}: no answer from the server in time`);
    return new ClientError(ClientErrorCode.ServerUnreachable, `${route}: cannot reach the server (${errorCodeOf(err)})`);
  }

  /** The ClientError for a non-2xx answer. */
  private async errorOf(route: string, exchange: Exchange): Promise<ClientError> {
    const { status } = exchange.response;
    let value: unknown;
    try {
      const bytes = await this.readBytes(route, exchange, MAX_ERROR_BYTES);
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch (err) {
      if (ClientError.is(err, ClientErrorCode.ServerUnreachable) || ClientError.is(err, ClientErrorCode.Closed)) return err;
      value = undefined;
    }
    if (!isObject(value) || typeof value.code !== 'string' || !ERROR_CODE.test(value.code)) {
      // A gateway in front of the server (502, 503, 504 with its own page) means the server itself was not reached.
      if (status === 502 || status === 503 || status === 504) {
        return new ClientError(ClientErrorCode.ServerUnreachable, `${route}: the server is unavailable (HTTP ${status})`);
      }
      return badResponse(route, `is HTTP ${status} without an error code`);
    }
    const { code, message: _message, ...details } = value;
    if (code === 'DEVICE_LIST_MISMATCH') {
      const lists: Record<string, number[]> = {};
      for (const name of ['missingDevices', 'extraDevices', 'staleDevices']) {
        const list = details[name];
        if (!Array.isArray(list) || !list.every(isDeviceId)) return badResponse(route, `has a malformed ${name}`);
        lists[name] = list;
      }
      Object.assign(details, lists);
    }
    return new ClientError(ClientErrorCode.ServerError, `${route}: the server refused with ${code} (HTTP ${status})`, { code, status, details });
  }
}
