import { readFile, stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { Command } from 'commander';
import { CliError, usage } from '../output.js';
import { openClient } from '../profile.js';
import { progressBar } from '../progress.js';
import type { Runner } from '../runner.js';
import { catchUp } from './receive.js';

/** Largest file `--attach` takes (the server's default attachment limit). */
const MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024;

const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.txt': 'text/plain',
  '.pdf': 'application/pdf',
  '.mp4': 'video/mp4',
  '.mp3': 'audio/mpeg',
};

export function sendCommand(program: Command, run: Runner): void {
  program
    .command('send')
    .description('send a message to every device of NAME (and to your other devices); exits 0 once the server stored it')
    .argument('[name]', 'username (or account id) of the recipient (not with --group)')
    .argument('[text]', 'the message', '')
    .option('--group <group>', 'send to this group (name or id) instead: then the only argument is the text')
    .option('--attach <file...>', 'files to send with it (encrypted on this device)')
    .option('--quote <id>', 'reply to the message with this id')
    .action((first: string | undefined, second: string, cmd: { attach?: string[]; quote?: string; group?: string }, command: Command) =>
      run(async (opts, out) => {
        const name = cmd.group === undefined ? first : undefined;
        const text = cmd.group === undefined ? second : (first ?? '');
        if (cmd.group === undefined && name === undefined) throw usage('say who to send to: samizdat send NAME "text", or --group GROUP "text"');
        if (text === '' && !cmd.attach?.length) throw usage('nothing to send: give a text, --attach FILE, or both');
        const attachments = [];
        for (const file of cmd.attach ?? []) {
          let size: number;
          try {
            size = (await stat(file)).size;
          } catch {
            throw new CliError('FILE_NOT_FOUND', `cannot read ${file}`);
          }
          if (size > MAX_ATTACHMENT_BYTES) throw new CliError('ATTACHMENT_TOO_LARGE', `${file} is larger than ${MAX_ATTACHMENT_BYTES / 1024 / 1024} MiB`);
          attachments.push({
            data: new Uint8Array(await readFile(file)),
            contentType: CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
            fileName: basename(file),
          });
        }
        const { client, profile } = await openClient(opts);
        const bar = progressBar('upload');
        try {
          let to: string;
          if (cmd.group !== undefined) {
            await catchUp(client, profile.home); // The group as it is now.
            to = (await client.groups.find(cmd.group)).groupId;
          } else to = name as string;
          let quote: { id: string; author: string } | undefined;
          if (cmd.quote !== undefined) {
            const conversation = cmd.group !== undefined ? to : (await client.resolve(to)).accountId;
            const target = (await client.history(conversation, { limit: 100_000 })).find((m) => m.id === cmd.quote);
            if (!target) throw usage(`no message with id ${cmd.quote} in that conversation`);
            quote = { id: target.id, author: target.author };
          }
          const sent = await client.sendText(to, text, {
            attachments,
            ...(quote ? { quote } : {}),
            onProgress: (done, total) => bar.update(done, total),
          });
          bar.stop();
          // 1:1: sealed (the server does not learn who sent it) or identified (fallback allowed by `samizdat privacy`).
          const delivery = cmd.group === undefined ? { sealed: sent.sealed === true } : {};
          const how = cmd.group !== undefined ? '' : sent.sealed ? ' sealed' : ' identified (the server saw who sent it)';
          out.result({ id: sent.id, timestamp: sent.timestamp, status: sent.status, to: cmd.group ?? name, ...delivery }, `Sent${how} (${sent.id}).`);
        } finally {
          bar.stop();
          await client.close();
          await profile.close();
        }
      }, command),
    );
}
