import { readFile, stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { Command } from 'commander';
import { CliError, usage } from '../output.js';
import { openClient } from '../profile.js';
import { progressBar } from '../progress.js';
import type { Runner } from '../runner.js';

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
    .argument('<name>', 'username (or account id) of the recipient')
    .argument('[text]', 'the message', '')
    .option('--attach <file...>', 'files to send with it (encrypted on this device)')
    .option('--quote <id>', 'reply to the message with this id')
    .action((name: string, text: string, cmd: { attach?: string[]; quote?: string }, command: Command) =>
      run(async (opts, out) => {
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
          let quote: { id: string; author: string } | undefined;
          if (cmd.quote !== undefined) {
            const contact = await client.resolve(name);
            const target = (await client.history(contact.accountId, { limit: 100_000 })).find((m) => m.id === cmd.quote);
            if (!target) throw usage(`no message with id ${cmd.quote} in the conversation with ${name}`);
            quote = { id: target.id, author: target.author };
          }
          const sent = await client.sendText(name, text, {
            attachments,
            ...(quote ? { quote } : {}),
            onProgress: (done, total) => bar.update(done, total),
          });
          bar.stop();
          out.result({ id: sent.id, timestamp: sent.timestamp, status: sent.status, to: name }, `Sent (${sent.id}).`);
        } finally {
          bar.stop();
          await client.close();
          await profile.close();
        }
      }, command),
    );
}
