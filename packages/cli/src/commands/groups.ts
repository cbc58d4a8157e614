import type { Client, GroupView } from '@samizdat/client';
import type { Command } from 'commander';
import type { Output } from '../output.js';
import type { GlobalOptions } from '../profile.js';
import type { Runner } from '../runner.js';
import { withCaughtUpClient } from './receive.js';

/** Opens the client, brings its groups up to date (processing what is queued), runs `fn`, and closes. */
function withGroups(opts: GlobalOptions, _out: Output, fn: (client: Client) => Promise<void>): Promise<void> {
  return withCaughtUpClient(opts, fn);
}

async function groupJson(client: Client, g: GroupView): Promise<Record<string, unknown>> {
  return {
    groupId: g.groupId,
    name: g.name ?? null,
    epoch: g.epoch,
    active: g.active,
    expireTimer: g.expireTimer,
    admins: await Promise.all(g.admins.map((a) => client.displayName(a))),
    members: await Promise.all(g.members.map(async (m) => ({ name: await client.displayName(m.accountId), accountId: m.accountId, devices: m.devices }))),
  };
}

export function groupsCommand(program: Command, run: Runner): void {
  const groups = program.command('groups').description('end-to-end encrypted groups (MLS): create, list, add, remove, leave, rename');
  groups
    .command('create')
    .description('create a group with the given members (all their devices); you are its admin')
    .argument('<name>', "the group's name (only members see it)")
    .argument('[members...]', 'usernames (or account ids) to add')
    .action((name: string, members: string[], _cmd: unknown, command: Command) =>
      run(
        (opts, out) =>
          withGroups(opts, out, async (client) => {
            const group = await client.groups.create(name, members);
            const json = await groupJson(client, client.groups.view(group));
            out.result({ type: 'group-created', ...json }, `Created "${name}" (${group.groupId.slice(0, 12)}…) with ${(json.members as unknown[]).length} members.`);
          }),
        command,
      ),
    );
  groups
    .command('list')
    .description('the groups this device is in (or was)')
    .action((_cmd: unknown, command: Command) =>
      run(
        (opts, out) =>
          withGroups(opts, out, async (client) => {
            const list = await Promise.all((await client.groups.list()).map((g) => groupJson(client, g)));
            if (opts.json) for (const g of list) out.result(g);
            else
              out.result(
                null,
                list.map((g) => `${String(g.name ?? '(unnamed)')}  ${String(g.groupId).slice(0, 12)}…  ${(g.members as unknown[]).length} members${g.active ? '' : '  (left)'}`).join('\n') ||
                  '(no groups)',
              );
          }),
        command,
      ),
    );
  for (const [verb, description] of [
    ['add', 'add members (all their devices) to GROUP (admins only)'],
    ['remove', 'remove members (all their devices) from GROUP (admins only); they cannot read anything sent afterwards'],
  ] as const) {
    groups
      .command(verb)
      .description(description)
      .argument('<group>', 'group name or id')
      .argument('<members...>', 'usernames (or account ids)')
      .action((group: string, members: string[], _cmd: unknown, command: Command) =>
        run(
          (opts, out) =>
            withGroups(opts, out, async (client) => {
              if (verb === 'add') await client.groups.add(group, members);
              else await client.groups.remove(group, members);
              const json = await groupJson(client, client.groups.view(await client.groups.find(group)));
              out.result({ type: verb === 'add' ? 'members-added' : 'members-removed', ...json }, `${verb === 'add' ? 'Added' : 'Removed'} ${members.join(', ')}.`);
            }),
          command,
        ),
      );
  }
  groups
    .command('leave')
    .description('leave GROUP: your devices stop receiving its messages')
    .argument('<group>', 'group name or id')
    .action((group: string, _cmd: unknown, command: Command) =>
      run(
        (opts, out) =>
          withGroups(opts, out, async (client) => {
            await client.groups.leave(group);
            out.result({ type: 'group-left', group }, `Left ${group}.`);
          }),
        command,
      ),
    );
  groups
    .command('rename')
    .description('rename GROUP (inside the group: the server never sees the name)')
    .argument('<group>', 'group name or id')
    .argument('<name>', 'the new name')
    .action((group: string, name: string, _cmd: unknown, command: Command) =>
      run(
        (opts, out) =>
          withGroups(opts, out, async (client) => {
            await client.groups.rename(group, name);
            out.result({ type: 'group-renamed', name }, `Renamed to "${name}".`);
          }),
        command,
      ),
    );
  groups
    .command('admins')
    .description('set who may add and remove members of GROUP (admins only)')
    .argument('<group>', 'group name or id')
    .argument('<admins...>', 'usernames (or account ids)')
    .action((group: string, admins: string[], _cmd: unknown, command: Command) =>
      run(
        (opts, out) =>
          withGroups(opts, out, async (client) => {
            await client.groups.setAdmins(group, admins);
            out.result({ type: 'group-admins', admins }, `Admins: ${admins.join(', ')}.`);
          }),
        command,
      ),
    );
}
