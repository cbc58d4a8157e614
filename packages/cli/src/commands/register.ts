import { Client } from '@samizdat/client';
import { nodeMlsCryptoProvider } from '@samizdat/protocol/groups-node';
import type { Command } from 'commander';
import type { Runner } from '../runner.js';
import { openProfile } from '../profile.js';

export function registerCommand(program: Command, run: Runner): void {
  program
    .command('register')
    .description('create an account on a server, with this profile as its first device')
    .requiredOption('--server <url>', 'the Samizdat server, e.g. https://chat.example.org')
    .option('--username <name>', 'a username others can find you by (3–32 letters, digits, "_" or ".")')
    .action((cmd: { server: string; username?: string }, command: Command) =>
      run(async (opts, out) => {
        const profile = await openProfile(opts);
        try {
          const client = await Client.register({
            store: profile.store,
            crypto: profile.crypto,
            connector: profile.connector,
            mlsCryptoProvider: nodeMlsCryptoProvider,
            serverUrl: cmd.server,
            ...(cmd.username !== undefined ? { username: cmd.username } : {}),
          });
          // Publish group key packages now, so that others can add this device to groups right away.
          await client.groups.maintainKeyPackages();
          out.result(
            { accountId: client.accountId, deviceId: client.deviceId, username: client.username ?? null, server: client.serverUrl },
            `Registered${client.username ? ` as ${client.username}` : ''} (account ${client.accountId}, device ${client.deviceId}).`,
          );
        } finally {
          await profile.close();
        }
      }, command),
    );
}
