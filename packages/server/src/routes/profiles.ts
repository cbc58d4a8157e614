/**
 * Encrypted profiles (docs/protocol.md "Profiles"; @samizdat/protocol sealed-sender/profile-cipher.ts): an account
 * stores its name, about text and avatar as ciphertext under its profile key, with the version derived from that key.
 * Anyone who presents the account's current version gets the ciphertexts, without credentials — an authenticated
 * fetch would tell the server who looks up whom, which is the contact graph sealed sender hides. Knowing the version
 * takes the profile key, which the account shares only with the people and groups it talks to. Every miss (no such
 * account, no profile, another version) is the same PROFILE_NOT_FOUND, decided by a constant-time comparison.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import { PROFILE_VERSION_LENGTH, maxProfileCiphertext } from '@samizdat/protocol';
import type { ProfileField } from '@samizdat/protocol';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { fromBase64, toBase64 } from '../http.js';
import { AccountId, Base64, ErrorResponse } from '../schemas.js';

/** Fetched without credentials (app.ts PUBLIC_ROUTES). */
export const PROFILE_FETCH_PATH = '/v1/profile/:accountId/:version';

const base64Length = (bytes: number) => 4 * Math.ceil(bytes / 3);
const field = (name: ProfileField, what: string) => Type.Optional(Base64(`${what}: nonce || AES-256-GCM ciphertext`, base64Length(maxProfileCiphertext(name))));

const ProfileBody = Type.Object(
  {
    version: Base64('the profile version derived from the profile key, 32 bytes', base64Length(PROFILE_VERSION_LENGTH)),
    name: field('name', 'the encrypted display name'),
    about: field('about', 'the encrypted about text'),
    avatar: field('avatar', 'the encrypted avatar image'),
  },
  { additionalProperties: false },
);

const Profile = Type.Object({ name: Type.Optional(Type.String()), about: Type.Optional(Type.String()), avatar: Type.Optional(Type.String()) });

const optionalBytes = (text: string | undefined, name: ProfileField) =>
  text === undefined ? undefined : fromBase64(text, name);

export function registerProfileRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const limit = (['name', 'about', 'avatar'] as const).reduce((sum, f) => sum + base64Length(maxProfileCiphertext(f)), 1024);

  app.put<{ Body: Static<typeof ProfileBody> }>(
    '/v1/profile',
    {
      bodyLimit: limit,
      schema: {
        tags: ['accounts', 'sealed sender'],
        summary: "Replace this account's encrypted profile (name, about text, avatar) and its version",
        body: ProfileBody,
        response: { 204: Type.Null(), 400: ErrorResponse, 401: ErrorResponse, 413: ErrorResponse },
      },
    },
    async (request, reply) => {
      const device = await ctx.authenticate(request);
      const body = request.body;
      const profile = {
        version: fromBase64(body.version, 'version', PROFILE_VERSION_LENGTH),
        name: optionalBytes(body.name, 'name'),
        about: optionalBytes(body.about, 'about'),
        avatar: optionalBytes(body.avatar, 'avatar'),
      };
      for (const name of ['name', 'about', 'avatar'] as const) {
        const value = profile[name];
        if (value !== undefined && value.length > maxProfileCiphertext(name)) throw new ApiError('PAYLOAD_TOO_LARGE', `the ${name} is larger than a profile ${name} can be`);
      }
      await ctx.repo.setProfile(device.accountId, profile, ctx.now());
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { accountId: string; version: string } }>(
    PROFILE_FETCH_PATH,
    {
      schema: {
        tags: ['accounts', 'sealed sender'],
        summary: "An account's encrypted profile, for whoever knows its current version (no credentials)",
        params: Type.Object({ accountId: AccountId, version: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'the version, 64 hex characters' }) }),
        response: { 200: Profile, 404: ErrorResponse },
      },
    },
    async (request) => {
      const presented = Buffer.from(request.params.version, 'hex');
      const profile = await ctx.repo.getProfile(request.params.accountId);
      const stored = profile?.version ?? new Uint8Array(PROFILE_VERSION_LENGTH);
      const matches = stored.length === presented.length && timingSafeEqual(stored, presented);
      if (!profile || !matches) throw new ApiError('PROFILE_NOT_FOUND');
      return {
        ...(profile.name ? { name: toBase64(profile.name) } : {}),
        ...(profile.about ? { about: toBase64(profile.about) } : {}),
        ...(profile.avatar ? { avatar: toBase64(profile.avatar) } : {}),
      };
    },
  );
}
