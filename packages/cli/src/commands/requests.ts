import { GROUP_ID_PATTERN } from '@samizdat/client';
import type { Client } from '@samizdat/client';
import type { Command } from 'commander';
import { messageJson } from '../events.js';
import type { Runner } from '../runner.js';
import { withCaughtUpClient } from './receive.js';

/** Requests are decided on what has arrived: the queue is processed first. */
const withClient = withCaughtUpClient;

/** NAME as the SDK takes it: a group id for `--group NAME` (a group's name or id) or a group id; else a person. */
async function targetOf(client: Client, name: string, group: boolean | undefined): Promise<string> {
  if (group || GROUP_ID_PATTERN.test(name)) return (await client.groups.find(name)).groupId;
  return (await client.resolve(name)).accountId;
}

/**
 * Message requests and blocking (docs/cli.md "Message requests"): `requests` lists them, `requests accept|delete
 * NAME` decides; `block`, `unblock`, `blocked`. Every decision applies on the account's other devices too.
 */
export function requestsCommand(program: Command, run: Runner): void {
  const requests = program.command('requests').description('message requests: chats and groups from people you do not talk with yet');
  requests
    .command('list', { isDefault: true })
    .description('the message requests, newest first (the default)')
    .action((_cmd: unknown, command: Command) =>
      run(
        (opts, out) =>
          withClient(opts, async (client) => {
            const list = (await client.conversations()).filter((c) => c.state === 'request');
            const rows = await Promise.all(
              list.map(async (c) => {
                const group = GROUP_ID_PATTERN.test(c.conversation) ? await client.groups.find(c.conversation) : undefined;
                return {
                  conversation: await client.displayName(c.conversation),
                  ...(group ? { groupId: group.groupId, addedBy: group.addedBy ? await client.displayName(group.addedBy) : null } : { conversationAccount: c.conversation }),
                  unread: c.unread,
                  lastMessage: c.lastMessage ? await messageJson(client, c.lastMessage) : null,
                };
              }),
            );
            if (opts.json) {
              for (const r of rows) out.result({ type: 'request', ...r });
              return;
            }
            const line = (r: (typeof rows)[number]) => {
              const who = 'groupId' in r ? `group "${r.conversation}" (added by ${String(r.addedBy ?? 'someone')})` : r.conversation;
              const last = r.lastMessage?.body;
              return `${who}${r.unread ? `, ${r.unread} unread` : ''}${typeof last === 'string' ? `: ${last}` : ''}`;
            };
            out.result(null, rows.map(line).join('\n') || '(no message requests)');
          }),
        command,
      ),
    );
  for (const [verb, description, done] of [
    ['accept', 'accept the request of NAME (a person, or with --group a group): it becomes an ordinary chat', 'Accepted'],
    ['delete', 'delete the request (its messages, on every device of yours); a group is left. They can write again.', 'Deleted'],
  ] as const) {
    requests
      .command(verb)
      .description(description)
      .argument('<name>', 'username, account id, or (with --group) group name or id')
      .option('--group', 'NAME is a group')
      .action((name: string, cmd: { group?: boolean }, command: Command) =>
        run(
          (opts, out) =>
            withClient(opts, async (client) => {
              const target = await targetOf(client, name, cmd.group);
              if (verb === 'accept') await client.acceptRequest(target);
              else await client.deleteConversation(target);
              out.result({ type: verb === 'accept' ? 'request-accepted' : 'request-deleted', conversation: await client.displayName(target) }, `${done} ${name}.`);
            }),
          command,
        ),
      );
  }
  program
    .command('block')
    .description('block NAME on every device of yours: their messages are dropped unread, they cannot add you to groups, you cannot write to them')
    .argument('<name>', 'username (or account id)')
    .action((name: string, _cmd: unknown, command: Command) =>
      run(
        (opts, out) =>
          withClient(opts, async (client) => {
            await client.block(name);
            out.result({ type: 'blocked', name }, `Blocked ${name}. "samizdat unblock ${name}" undoes it.`);
          }),
        command,
      ),
    );
  program
    .command('unblock')
    .description('unblock NAME (what they send afterwards arrives, as a message request until you accept or reply)')
    .argument('<name>', 'username (or account id)')
    .action((name: string, _cmd: unknown, command: Command) =>
      run(
        (opts, out) =>
          withClient(opts, async (client) => {
            await client.unblock(name);
            out.result({ type: 'unblocked', name }, `Unblocked ${name}.`);
          }),
        command,
      ),
    );
  program
    .command('blocked')
    .description('the people you blocked')
    .action((_cmd: unknown, command: Command) =>
      run(
        (opts, out) =>
          withClient(opts, async (client) => {
            const blocked = await client.blocked();
            const names = await Promise.all(blocked.map(async (c) => ({ name: await client.displayName(c.accountId), accountId: c.accountId })));
            out.result({ blocked: names }, names.map((n) => n.name).join('\n') || '(nobody blocked)');
          }),
        command,
      ),
    );
}
