import { Client } from '@samizdat/client';
import { nodeMlsCryptoProvider } from '@samizdat/protocol/groups-node';
import type { Command } from 'commander';
import QRCode from 'qrcode';
import { usage } from '../output.js';
import { openProfile } from '../profile.js';
import type { Runner } from '../runner.js';

export function linkCommand(program: Command, run: Runner): void {
  program
    .command('link')
    .description('make this profile a new device of an existing account: shows a code to enter on a device you already have ("samizdat devices add CODE")')
    .requiredOption('--server <url>', 'the Samizdat server of the account')
    .option('--timeout <seconds>', 'give up after this many seconds (default 600, the server limit)', '600')
    .action((cmd: { server: string; timeout: string }, command: Command) =>
      run(async (opts, out) => {
        const seconds = Number(cmd.timeout);
        if (!Number.isFinite(seconds) || seconds <= 0) throw usage('--timeout takes a positive number of seconds');
        const profile = await openProfile(opts);
        const signal = AbortSignal.timeout(seconds * 1000);
        try {
          const client = await Client.link({
            store: profile.store,
            crypto: profile.crypto,
            connector: profile.connector,
            mlsCryptoProvider: nodeMlsCryptoProvider,
            serverUrl: cmd.server,
            signal,
            onCode: (code) => {
              if (opts.json) {
                out.result({ type: 'link-code', code });
                return;
              }
              void QRCode.toString(code, { type: 'terminal', small: true }).then((qr) => {
                out.info(`${qr}\nOn a device of your account, run:\n\n  samizdat devices add ${code}\n\nWaiting…`);
              });
            },
          });
          // Publish group key packages now, so that others can add this device to groups right away.
          await client.groups.maintainKeyPackages();
          out.result(
            { type: 'linked', accountId: client.accountId, deviceId: client.deviceId, username: client.username ?? null },
            `Linked: this is device ${client.deviceId} of ${client.username ?? client.accountId}.`,
          );
        } finally {
          await profile.close();
        }
      }, command),
    );
}
