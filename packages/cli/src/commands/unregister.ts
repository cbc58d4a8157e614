import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { usage } from '../output.js';
import { openClient } from '../profile.js';
import type { Runner } from '../runner.js';

export function unregisterCommand(program: Command, run: Runner): void {
  program
    .command('unregister')
    .description('delete the account on the server (every device, queued message and attachment) and this profile\'s data')
    .option('--yes', 'confirm: this cannot be undone')
    .action((cmd: { yes?: boolean }, command: Command) =>
      run(async (opts, out) => {
        if (!cmd.yes) throw usage('this deletes the account for good: repeat with --yes');
        const { client, profile } = await openClient(opts);
        try {
          await client.deleteAccount();
        } finally {
          await client.close();
          await profile.close();
        }
        for (const file of ['samizdat.db', 'samizdat.db-wal', 'samizdat.db-shm']) rmSync(join(profile.home, file), { force: true });
        rmSync(join(profile.home, 'attachments'), { recursive: true, force: true });
        out.result({ type: 'unregistered' }, 'The account and this profile\'s data are deleted.');
      }, command),
    );
}
