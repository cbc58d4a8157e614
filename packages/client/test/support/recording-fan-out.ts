/**
 * A DeviceFanOut without a network, for the service tests: what would be encrypted and sent to an account, and the
 * prekey bundles that would be fetched, are recorded instead. Everything else (the staged-store commit with its
 * identity-change notices, the known device lists) is the real fan-out's, on the test's store.
 */
import type { Content } from '../../src/content/content.js';
import { DeviceFanOut } from '../../src/outbox/fan-out.js';
import type { FanOutHost } from '../../src/outbox/fan-out.js';
import { SealedDelivery } from '../../src/sealed/sealed-delivery.js';
import type { DeliveryKind } from '../../src/sealed/sealed-delivery.js';
import type { HttpApi } from '../../src/transport/http-api.js';

/** One `sendToAccount` call. */
export interface SentContent {
  readonly accountId: string;
  readonly content: Content;
  readonly own: boolean;
}

/** One `fetchSessions` call. */
export interface FetchedSessions {
  readonly accountId: string;
  readonly deviceId: number | '*';
  readonly own: boolean;
}

/** Fails any use of the server loudly: a service test that reaches the network is missing a stub. */
export const NO_NETWORK = new Proxy({} as HttpApi, {
  get(_target, name) {
    throw new Error(`the recording fan-out has no server (HttpApi.${String(name)} was used)`);
  },
});

export class RecordingFanOut extends DeviceFanOut {
  readonly sent: SentContent[] = [];
  readonly fetched: FetchedSessions[] = [];
  /** Runs on every send, after it was recorded (to look at the store as it stands then). */
  onSend: (sent: SentContent) => Promise<void> = async () => undefined;
  /** What a fetch does besides being recorded: nothing, unless a test starts sessions here. */
  onFetch: (fetch: FetchedSessions) => Promise<void> = async () => undefined;

  constructor(host: Omit<FanOutHost, 'api' | 'socket' | 'sealed'>) {
    super({ ...host, api: NO_NETWORK, socket: () => undefined, sealed: new SealedDelivery({ ...host, api: NO_NETWORK, accountId: () => host.account().accountId }) });
  }

  override async sendToAccount(accountId: string, content: Content, own: boolean): Promise<DeliveryKind> {
    const sent = { accountId, content, own };
    this.sent.push(sent);
    await this.onSend(sent);
    return 'identified';
  }

  override async fetchSessions(accountId: string, deviceId: number | '*', own: boolean): Promise<void> {
    const fetch = { accountId, deviceId, own };
    this.fetched.push(fetch);
    await this.onFetch(fetch);
  }
}
