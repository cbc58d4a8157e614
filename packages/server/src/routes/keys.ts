/** Key directory: upload a device's prekeys, count what is left, fetch bundles (consuming one-time keys). */
import type { FastifyInstance } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import { decodeIdentityKey, verifyKyberPreKey, verifySignedPreKey } from '@samizdat/protocol';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { fromBase64, toBase64 } from '../http.js';
import type { OneTimePreKeyRecord, SignedPreKeyRecord } from '../store/repository.js';
import { AccountId, ErrorResponse, KyberPreKey, MAX_KEYS_PER_UPLOAD, OneTimePreKey, SignedPreKey } from '../schemas.js';

type SignedIn = Static<typeof SignedPreKey>;
type KyberIn = Static<typeof KyberPreKey>;
type OneTimeIn = Static<typeof OneTimePreKey>;

export interface DecodedKeys {
  readonly signedPreKey?: SignedPreKeyRecord;
  readonly kyberLastResortPreKey?: SignedPreKeyRecord;
  readonly oneTimePreKeys: OneTimePreKeyRecord[];
  readonly kyberPreKeys: SignedPreKeyRecord[];
}

/** Decodes uploaded keys and checks every signature against the account identity key (BAD_SIGNATURE otherwise). */
export async function decodeAndVerifyKeys(
  ctx: ServerContext,
  identityKey: Uint8Array,
  input: { signedPreKey?: SignedIn; kyberLastResortPreKey?: KyberIn; oneTimePreKeys?: OneTimeIn[]; kyberPreKeys?: KyberIn[] },
): Promise<DecodedKeys> {
  const { signingKey } = decodeIdentityKey(identityKey);
  const ec = (k: SignedIn, field: string): SignedPreKeyRecord => ({
    keyId: k.keyId,
    publicKey: fromBase64(k.publicKey, `${field}.publicKey`, 32),
    signature: fromBase64(k.signature, `${field}.signature`, 64),
  });
  const kem = (k: KyberIn, field: string): SignedPreKeyRecord => ({
    keyId: k.keyId,
    publicKey: fromBase64(k.publicKey, `${field}.publicKey`, 1568),
    signature: fromBase64(k.signature, `${field}.signature`, 64),
  });
  const signedPreKey = input.signedPreKey && ec(input.signedPreKey, 'signedPreKey');
  const lastResort = input.kyberLastResortPreKey && kem(input.kyberLastResortPreKey, 'kyberLastResortPreKey');
  const kyberPreKeys = (input.kyberPreKeys ?? []).map((k, i) => kem(k, `kyberPreKeys[${i}]`));
  const oneTimePreKeys = (input.oneTimePreKeys ?? []).map((k, i) => ({
    keyId: k.keyId,
    publicKey: fromBase64(k.publicKey, `oneTimePreKeys[${i}].publicKey`, 32),
  }));
  if (signedPreKey && !(await verifySignedPreKey(ctx.crypto, signingKey, signedPreKey.publicKey, signedPreKey.signature))) {
    throw new ApiError('BAD_SIGNATURE', 'signedPreKey signature does not verify');
  }
  for (const [i, k] of [...(lastResort ? [lastResort] : []), ...kyberPreKeys].entries()) {
    if (!(await verifyKyberPreKey(ctx.crypto, signingKey, k.publicKey, k.signature))) {
      throw new ApiError('BAD_SIGNATURE', `ML-KEM prekey ${i} signature does not verify`);
    }
  }
  return {
    ...(signedPreKey ? { signedPreKey } : {}),
    ...(lastResort ? { kyberLastResortPreKey: lastResort } : {}),
    oneTimePreKeys,
    kyberPreKeys,
  };
}

export async function storeKeys(ctx: ServerContext, accountId: string, deviceId: number, keys: DecodedKeys): Promise<void> {
  if (keys.signedPreKey) await ctx.repo.keys.setSignedPreKey(accountId, deviceId, keys.signedPreKey);
  if (keys.kyberLastResortPreKey) await ctx.repo.keys.setKyberLastResortPreKey(accountId, deviceId, keys.kyberLastResortPreKey);
  if (keys.oneTimePreKeys.length) await ctx.repo.keys.addOneTimePreKeys(accountId, deviceId, keys.oneTimePreKeys);
  if (keys.kyberPreKeys.length) await ctx.repo.keys.addKyberOneTimePreKeys(accountId, deviceId, keys.kyberPreKeys);
}

const UploadBody = Type.Object(
  {
    signedPreKey: Type.Optional(SignedPreKey),
    kyberLastResortPreKey: Type.Optional(KyberPreKey),
    oneTimePreKeys: Type.Optional(Type.Array(OneTimePreKey, { maxItems: MAX_KEYS_PER_UPLOAD })),
    kyberPreKeys: Type.Optional(Type.Array(KyberPreKey, { maxItems: MAX_KEYS_PER_UPLOAD })),
  },
  { additionalProperties: false },
);

const Counts = Type.Object({ oneTime: Type.Integer(), kyberOneTime: Type.Integer() });

const BundleDevice = Type.Object({
  deviceId: Type.Integer(),
  registrationId: Type.Integer(),
  signedPreKey: SignedPreKey,
  oneTimePreKey: Type.Optional(OneTimePreKey),
  kyberPreKey: KyberPreKey,
});

const BundleResponse = Type.Object({ identityKey: Type.String(), devices: Type.Array(BundleDevice) });

export function registerKeyRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.put<{ Body: Static<typeof UploadBody> }>(
    '/v1/keys',
    {
      schema: {
        tags: ['keys'],
        summary: 'Upload prekeys of the authenticated device (signatures are checked)',
        body: UploadBody,
        response: { 204: Type.Null(), 400: ErrorResponse, 401: ErrorResponse },
      },
    },
    async (request, reply) => {
      const device = await ctx.authenticate(request);
      const account = await ctx.repo.getAccount(device.accountId);
      if (!account) throw new ApiError('UNAUTHORIZED');
      const keys = await decodeAndVerifyKeys(ctx, account.identityKey, request.body);
      await storeKeys(ctx, device.accountId, device.deviceId, keys);
      return reply.code(204).send();
    },
  );

  app.get(
    '/v1/keys/count',
    { schema: { tags: ['keys'], summary: 'One-time prekeys left for the authenticated device', response: { 200: Counts } } },
    async (request) => {
      const device = await ctx.authenticate(request);
      return ctx.repo.keys.countPreKeys(device.accountId, device.deviceId);
    },
  );

  app.get<{ Params: { accountId: string; deviceId: string } }>(
    '/v1/keys/:accountId/:deviceId',
    {
      schema: {
        tags: ['keys'],
        summary: 'Prekey bundles of one device, or of every device with "*"; consumes one-time keys',
        params: Type.Object({ accountId: AccountId, deviceId: Type.String({ pattern: '^(\\*|[1-9][0-9]{0,3})$' }) }),
        response: { 200: BundleResponse, 404: ErrorResponse, 429: ErrorResponse },
      },
    },
    async (request) => {
      const requester = await ctx.authenticate(request);
      const { accountId, deviceId } = request.params;
      // Before anything is read or consumed: each fetch takes one of the (requester, target) pair's budget, and one of
      // the requester's new-target budget when it has not fetched from this account lately (rate-limit.ts
      // TargetBudget). A fetch of "*" counts once: it takes at most one one-time key of each kind per device.
      const budget = ctx.bundleBudget.take(requester.accountId, [accountId], ctx.now());
      if (budget.kind === 'limited') {
        const what = budget.scope === 'target' ? 'of this account' : 'of accounts not fetched from lately';
        throw new ApiError('RATE_LIMITED', `too many prekey bundle fetches ${what}`, { retryAfter: budget.retryAfter });
      }
      const account = await ctx.repo.getAccount(accountId);
      if (!account) throw new ApiError('ACCOUNT_NOT_FOUND');
      let ids: number[];
      if (deviceId === '*') {
        ids = (await ctx.repo.listDevices(accountId)).map((d) => d.deviceId);
        if (accountId === requester.accountId) ids = ids.filter((id) => id !== requester.deviceId);
      } else {
        ids = [Number(deviceId)];
      }
      const devices = [];
      for (const id of ids) {
        const bundle = await ctx.repo.keys.takeBundle(accountId, id);
        if (!bundle) {
          if (deviceId === '*') continue;
          if (!(await ctx.repo.getDevice(accountId, id))) throw new ApiError('DEVICE_NOT_FOUND');
          throw new ApiError('PREKEYS_EXHAUSTED');
        }
        devices.push({
          deviceId: bundle.deviceId,
          registrationId: bundle.registrationId,
          signedPreKey: { keyId: bundle.signedPreKey.keyId, publicKey: toBase64(bundle.signedPreKey.publicKey), signature: toBase64(bundle.signedPreKey.signature) },
          ...(bundle.oneTimePreKey
            ? { oneTimePreKey: { keyId: bundle.oneTimePreKey.keyId, publicKey: toBase64(bundle.oneTimePreKey.publicKey) } }
            : {}),
          kyberPreKey: { keyId: bundle.kyberPreKey.keyId, publicKey: toBase64(bundle.kyberPreKey.publicKey), signature: toBase64(bundle.kyberPreKey.signature) },
        });
      }
      return { identityKey: toBase64(account.identityKey), devices };
    },
  );
}
