import { join } from 'node:path';
import type { Command } from 'commander';
import { runChat } from '../chat/chat.js';
import { openClient } from '../profile.js';
import type { Runner } from '../runner.js';

export function chatCommand(program: Command, run: Runner): void {
  program
    .command('chat')
    .description('an interactive conversation with NAME: history, live messages, typing, read receipts (/quit to leave)')
    .argument('<name>', 'username (or account id)')
    .action((name: string, _cmd: unknown, command: Command) =>
      run(async (opts) => {
        const { client, profile } = await openClient(opts);
        try {
          const peer = await client.resolve(name);
          await runChat(client, peer, join(profile.home, 'attachments'));
        } finally {
          await client.close();
          await profile.close();
        }
      }, command),
    );
}
