/**
 * The client's transport: how it reaches the server. Isomorphic (no Node imports); the Node connector with proxy
 * support is `nodeConnector` in node-connector.ts, exported from the package's Node entry point only.
 */
export type { Connector, FetchInit, WebSocketClose, WebSocketLike } from './connector.js';
export { browserConnector } from './connector.js';
export type { Credentials } from './endpoint.js';
export { HttpApi, mismatchOf } from './http-api.js';
export type {
  AccountKey,
  DeviceAddress,
  DeviceBundle,
  DeviceInfo,
  DeviceListMismatch,
  DownloadOptions,
  FetchMessagesOptions,
  HttpApiOptions,
  KeyUpload,
  LinkRequest,
  Me,
  NewDevice,
  OutgoingEnvelope,
  PreKeyBundles,
  ProgressCallback,
  ReceivedEnvelope,
  RegisterRequest,
  StoredAttachment,
  TransferOptions,
} from './http-api.js';
export { DeliverySocket } from './delivery-socket.js';
export type { DeliverySocketOptions, DeliveryState, DeliveryStats, ReconnectOptions } from './delivery-socket.js';
export { openProvisioningSocket } from './provisioning-socket.js';
export type { ProvisioningSocket, ProvisioningSocketOptions } from './provisioning-socket.js';
