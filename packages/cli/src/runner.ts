/** What every command shares: global options, output, error handling and the exit code. */
import type { Command } from 'commander';
import { Output } from './output.js';
import type { GlobalOptions } from './profile.js';

export type Action = (opts: GlobalOptions, out: Output) => Promise<void>;
export type Runner = (action: Action, command: Command) => Promise<void>;

/** Runs a command's action; a failure becomes one clear line on stderr and a non-zero exit code. */
export const runAction: Runner = async (action, command) => {
  const opts = command.optsWithGlobals<GlobalOptions>();
  const out = new Output(opts.json === true);
  try {
    await action(opts, out);
  } catch (err) {
    process.exitCode = out.error(err);
  }
};
