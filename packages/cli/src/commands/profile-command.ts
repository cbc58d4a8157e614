import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { Client, OwnProfile } from '@samizdat/client';
import type { Command } from 'commander';
import { CliError, usage } from '../output.js';
import { openClient } from '../profile.js';
import type { Runner } from '../runner.js';

function profileJson(p: OwnProfile): Record<string, unknown> {
  return {
    name: p.name ?? null,
    about: p.about ?? null,
    avatar: p.avatar ? { bytes: p.avatar.length, sha256: createHash('sha256').update(p.avatar).digest('hex') } : null,
  };
}

function profileText(p: OwnProfile): string {
  return [
    `Name: ${p.name ?? '(none)'}`,
    `About: ${p.about ?? '(none)'}`,
    `Avatar: ${p.avatar ? `${p.avatar.length} bytes` : '(none)'}`,
    'Encrypted under your profile key on the server; the people and groups you talk with can read it.',
  ].join('\n');
}

async function withOpenClient<T>(opts: Parameters<typeof openClient>[0], work: (client: Client) => Promise<T>): Promise<T> {
  const { client, profile } = await openClient(opts);
  try {
    return await work(client);
  } finally {
    await client.close();
    await profile.close();
  }
}

/**
 * `samizdat profile`: the user's name, about text and avatar, stored on the server encrypted under the profile key
 * (docs/protocol.md "Profiles"), which contacts and groups receive inside messages. `profile set` changes them.
 */
export function profileCommand(program: Command, run: Runner): void {
  const profile = program.command('profile').description('your encrypted profile (name, about text, avatar), which the people and groups you talk with see');
  profile
    .command('show', { isDefault: true })
    .description('show your profile (the default)')
    .action((_cmd: unknown, command: Command) =>
      run(async (opts, out) => {
        const own = await withOpenClient(opts, (client) => client.profile());
        out.result(profileJson(own), profileText(own));
      }, command),
    );
  profile
    .command('set')
    .description('change your profile: only the options given change')
    .option('--name <name>', 'your display name (at most 100 characters; "" removes it)')
    .option('--about <text>', 'a line about you (at most 500 characters; "" removes it)')
    .option('--avatar <file>', 'a picture (at most 256 KiB)')
    .option('--no-avatar', 'remove the picture')
    .action((cmd: { name?: string; about?: string; avatar?: string | false }, command: Command) =>
      run(async (opts, out) => {
        if (cmd.name === undefined && cmd.about === undefined && cmd.avatar === undefined) throw usage('give at least one of --name, --about, --avatar, --no-avatar');
        let avatar: Uint8Array | null | undefined;
        if (cmd.avatar === false) avatar = null;
        else if (typeof cmd.avatar === 'string') {
          try {
            avatar = new Uint8Array(readFileSync(cmd.avatar));
          } catch {
            throw new CliError('FILE_NOT_FOUND', `cannot read ${cmd.avatar}`);
          }
        }
        const own = await withOpenClient(opts, (client) =>
          client.setProfile({
            ...(cmd.name !== undefined ? { name: cmd.name === '' ? null : cmd.name } : {}),
            ...(cmd.about !== undefined ? { about: cmd.about === '' ? null : cmd.about } : {}),
            ...(avatar !== undefined ? { avatar } : {}),
          }),
        );
        out.result(profileJson(own), profileText(own));
      }, command),
    );
}
