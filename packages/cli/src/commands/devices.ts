import type { Command } from 'commander';
import { usage } from '../output.js';
import { openClient } from '../profile.js';
import type { Runner } from '../runner.js';

export function devicesCommand(program: Command, run: Runner): void {
  const devices = program.command('devices').description("list, add and remove this account's devices");
  devices
    .command('list')
    .description("the account's devices")
    .action((_cmd: unknown, command: Command) =>
      run(async (opts, out) => {
        const { client, profile } = await openClient(opts);
        try {
          const list = await client.devices();
          const rows = list.map((d) => ({ ...d, current: d.deviceId === client.deviceId }));
          out.result(
            { devices: rows },
            rows.map((d) => `${d.deviceId}${d.current ? ' (this device)' : ''}  added ${new Date(d.createdAt).toISOString()}  last seen ${new Date(d.lastSeenAt).toISOString()}`).join('\n'),
          );
        } finally {
          await client.close();
          await profile.close();
        }
      }, command),
    );
  devices
    .command('add')
    .description('link a new device: CODE is what "samizdat link" shows on it')
    .argument('<code>', 'the link code')
    .action((code: string, _cmd: unknown, command: Command) =>
      run(async (opts, out) => {
        const { client, profile } = await openClient(opts);
        try {
          await client.addDevice(code);
          out.result({ type: 'device-added' }, 'Sent the account keys to the new device (end-to-end encrypted).');
        } finally {
          await client.close();
          await profile.close();
        }
      }, command),
    );
  devices
    .command('remove')
    .description('remove a device of this account; it stops receiving at once')
    .argument('<id>', 'the device id ("samizdat devices list")')
    .action((id: string, _cmd: unknown, command: Command) =>
      run(async (opts, out) => {
        const deviceId = Number(id);
        if (!Number.isInteger(deviceId) || deviceId < 1) throw usage('a device id is a positive whole number');
        const { client, profile } = await openClient(opts);
        try {
          await client.removeDevice(deviceId);
          out.result({ type: 'device-removed', deviceId }, `Removed device ${deviceId}.`);
        } finally {
          await client.close();
          await profile.close();
        }
      }, command),
    );
}
