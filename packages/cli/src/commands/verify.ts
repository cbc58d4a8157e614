import { compareScannable } from '@samizdat/protocol';
import type { Command } from 'commander';
import QRCode from 'qrcode';
import { usage } from '../output.js';
import { openClient } from '../profile.js';
import type { Runner } from '../runner.js';

const toBase64Url = (b: Uint8Array) => Buffer.from(b).toString('base64url');

export function verifyCommand(program: Command, run: Runner): void {
  program
    .command('verify')
    .description('show the safety number with NAME (compare it in person or over a trusted channel), and mark it verified')
    .argument('<name>', 'username (or account id)')
    .option('--mark-verified', 'record that you compared the numbers and they match')
    .option('--unverify', 'clear the verified mark')
    .option('--compare <code>', "the other side's scannable code (what their QR holds): checks it against ours")
    .action((name: string, cmd: { markVerified?: boolean; unverify?: boolean; compare?: string }, command: Command) =>
      run(async (opts, out) => {
        if (cmd.markVerified && cmd.unverify) throw usage('--mark-verified and --unverify exclude each other');
        const { client, profile } = await openClient(opts);
        try {
          let matches: boolean | undefined;
          if (cmd.compare !== undefined) {
            const sn = await client.safetyNumber(name);
            const theirs = Buffer.from(cmd.compare.trim(), 'base64url');
            try {
              matches = compareScannable(sn.scannable, new Uint8Array(theirs));
            } catch {
              throw usage('that is not a safety-number code');
            }
            if (matches && cmd.markVerified === undefined && !cmd.unverify) await client.markVerified(name, true);
          }
          if (cmd.markVerified) await client.markVerified(name, true);
          if (cmd.unverify) await client.markVerified(name, false);
          const sn = await client.safetyNumber(name);
          const code = toBase64Url(sn.scannable);
          const qr = opts.json ? '' : await QRCode.toString(code, { type: 'terminal', small: true });
          out.result(
            { name, safetyNumber: sn.digits, formatted: sn.formatted, scannable: code, verified: sn.verified, ...(matches !== undefined ? { matches } : {}) },
            [
              `Safety number with ${name}:`,
              '',
              `  ${sn.formatted.slice(0, 35)}`,
              `  ${sn.formatted.slice(36)}`,
              '',
              qr,
              `Code for the other side: ${code}`,
              matches === undefined ? '' : matches ? 'Their code matches: verified.' : 'THEIR CODE DOES NOT MATCH. Do not mark this contact verified.',
              `Verified: ${sn.verified ? 'yes' : 'no'}`,
            ].join('\n'),
          );
          if (matches === false) process.exitCode = 1;
        } finally {
          await client.close();
          await profile.close();
        }
      }, command),
    );
}
