import type { Command } from 'commander';
import { messageJson } from '../events.js';
import { usage } from '../output.js';
import { openClient } from '../profile.js';
import type { Runner } from '../runner.js';

/** whoami, contacts, conversations, history: reading what the profile holds. */
export function infoCommands(program: Command, run: Runner): void {
  program
    .command('whoami')
    .description('this profile: account, device, username, server')
    .action((_cmd: unknown, command: Command) =>
      run(async (opts, out) => {
        const { client, profile } = await openClient(opts);
        try {
          out.result(
            { accountId: client.accountId, deviceId: client.deviceId, username: client.username ?? null, server: client.serverUrl },
            `${client.username ?? '(no username)'} — account ${client.accountId}, device ${client.deviceId}, on ${client.serverUrl}`,
          );
        } finally {
          await client.close();
          await profile.close();
        }
      }, command),
    );
  program
    .command('contacts')
    .description('the people this profile knows')
    .action((_cmd: unknown, command: Command) =>
      run(async (opts, out) => {
        const { client, profile } = await openClient(opts);
        try {
          const contacts = await client.contacts();
          out.result(
            { contacts },
            contacts
              .map((c) => {
                // The profile name is theirs to choose: shown beside the username the server confirmed, never instead.
                const named = c.name !== undefined && c.username !== undefined ? ` (${c.name})` : '';
                return `${c.username ?? c.name ?? c.accountId}${named}${c.about !== undefined ? ` — ${c.about}` : ''}${c.verified ? ' (verified)' : ''}`;
              })
              .join('\n') || '(no contacts yet)',
          );
        } finally {
          await client.close();
          await profile.close();
        }
      }, command),
    );
  program
    .command('history')
    .description('the stored conversation with NAME, oldest first')
    .argument('<name>', 'username (or account id)')
    .option('--limit <n>', 'at most this many of the latest messages', '50')
    .action((name: string, cmd: { limit: string }, command: Command) =>
      run(async (opts, out) => {
        const limit = Number(cmd.limit);
        if (!Number.isInteger(limit) || limit < 1) throw usage('--limit takes a positive whole number');
        const { client, profile } = await openClient(opts);
        try {
          const contact = await client.resolve(name);
          const messages = await client.history(contact.accountId, { limit });
          const rows: Record<string, unknown>[] = await Promise.all(messages.map(async (m) => ({ ...(await messageJson(client, m)), status: m.status, deleted: m.deleted ?? false })));
          if (opts.json) for (const r of rows) out.result(r);
          else out.result(null, rows.map((r) => `${new Date(r.timestamp as number).toLocaleString()} ${r.from as string}: ${r.deleted ? '(deleted)' : ((r.body as string | null) ?? `(${String(r.type)})`)}`).join('\n') || '(no messages)');
        } finally {
          await client.close();
          await profile.close();
        }
      }, command),
    );
}
