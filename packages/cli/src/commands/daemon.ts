import { createServer } from 'node:net';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { methods, serveStream } from '../daemon/json-rpc.js';
import { identityJson, messageJson, typingJson, updateJson } from '../events.js';
import { usage } from '../output.js';
import { openClient } from '../profile.js';
import { saveAttachments, startReceiving } from './receive.js';
import type { Runner } from '../runner.js';

export function daemonCommand(program: Command, run: Runner): void {
  program
    .command('daemon')
    .description('stay connected and serve JSON-RPC 2.0 on stdin/stdout and a Unix socket (for bots)')
    .option('--json-rpc', 'speak JSON-RPC 2.0, one object per line (the only mode so far)')
    .option('--socket <path>', 'Unix socket path (default <home>/daemon.sock)')
    .option('--no-stdio', 'serve only the Unix socket')
    .action((cmd: { jsonRpc?: boolean; socket?: string; stdio: boolean }, command: Command) =>
      run(async (opts) => {
        if (!cmd.jsonRpc) throw usage('say --json-rpc (the daemon speaks JSON-RPC 2.0)');
        const { client, profile } = await openClient(opts);
        const table = methods(client);
        const streams: { notify(params: object): void }[] = [];
        const notify = (params: object) => streams.forEach((s) => s.notify(params));
        let chain = Promise.resolve();
        const later = (fn: () => Promise<void>): void => {
          chain = chain.then(fn).catch(() => undefined);
        };
        const attachmentDir = join(profile.home, 'attachments');
        client.on('message', (m) => later(async () => notify(await messageJson(client, m, m.attachments?.length ? await saveAttachments(client, m, attachmentDir) : []))));
        client.on('message-updated', (m) => later(async () => notify(await updateJson(client, m))));
        client.on('typing', (t) => later(async () => notify(await typingJson(client, t))));
        client.on('identity-changed', (e) => later(async () => notify(identityJson(e))));

        const socketPath = cmd.socket ?? join(profile.home, 'daemon.sock');
        rmSync(socketPath, { force: true });
        const server = createServer((conn) => {
          const s = serveStream(table, conn, conn);
          streams.push(s);
          void s.closed.finally(() => streams.splice(streams.indexOf(s), 1));
          conn.on('error', () => conn.destroy());
        });
        await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socketPath, resolve));
        let stop!: () => void;
        const stopped = new Promise<void>((resolve) => (stop = resolve));
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          // Attached before receiving starts, so that no notification of what was queued is missed.
          if (cmd.stdio) {
            const s = serveStream(table, process.stdin, process.stdout);
            streams.push(s);
            void s.closed.then(stop);
          }
          const { finished } = await startReceiving(client);
          await Promise.race([stopped, finished]);
        } finally {
          server.close();
          rmSync(socketPath, { force: true });
          await client.stop();
          await chain;
          await client.close();
          await profile.close();
        }
      }, command),
    );
}
