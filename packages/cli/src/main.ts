#!/usr/bin/env node
/**
 * samizdat: the end-to-end encrypted messenger in a terminal. Every command takes --home DIR (SAMIZDAT_HOME,
 * default ~/.samizdat) for the profile, --json for machine-readable output and --proxy URL (SAMIZDAT_PROXY:
 * http://host:port for HTTP CONNECT, socks5://host:port) for reaching a blocked server. docs/cli.md is the manual.
 */
import { Command, CommanderError } from 'commander';
import { chatCommand } from './commands/chat.js';
import { daemonCommand } from './commands/daemon.js';
import { devicesCommand } from './commands/devices.js';
import { groupsCommand } from './commands/groups.js';
import { infoCommands } from './commands/info.js';
import { linkCommand } from './commands/link.js';
import { privacyCommand } from './commands/privacy.js';
import { profileCommand } from './commands/profile-command.js';
import { receiveCommand } from './commands/receive.js';
import { registerCommand } from './commands/register.js';
import { requestsCommand } from './commands/requests.js';
import { sendCommand } from './commands/send.js';
import { unregisterCommand } from './commands/unregister.js';
import { verifyCommand } from './commands/verify.js';
import { runAction } from './runner.js';

export function buildProgram(): Command {
  const program = new Command()
    .name('samizdat')
    .description('Samizdat: an end-to-end encrypted messenger whose server has nothing readable to hand over')
    .option('--home <dir>', 'profile directory (SAMIZDAT_HOME, default ~/.samizdat)')
    .option('--json', 'machine-readable output: one JSON object per line')
    .option('--proxy <url>', 'reach the server through a proxy: http://host:port or socks5://host:port (SAMIZDAT_PROXY)')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  for (const add of [registerCommand, linkCommand, sendCommand, receiveCommand, devicesCommand, verifyCommand, chatCommand, daemonCommand, infoCommands, unregisterCommand, groupsCommand, requestsCommand, privacyCommand, profileCommand]) {
    add(program, runAction);
  }
  for (const command of program.commands) {
    command.exitOverride().configureOutput({ writeErr: (text) => process.stderr.write(text) });
    for (const sub of command.commands) sub.exitOverride().configureOutput({ writeErr: (text) => process.stderr.write(text) });
  }
  return program;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv, { from: 'node' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; every usage error exits 2.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    throw err;
  }
}

await main();
// Exit now rather than when idle keep-alive sockets time out; stdout is flushed first so no output is cut.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
process.exit();
