import type { Command } from 'commander';
import { usage } from '../output.js';
import { openClient } from '../profile.js';
import type { Runner } from '../runner.js';

const ON_OFF: Record<string, boolean> = { on: true, off: false };

/**
 * `samizdat privacy`: who may send this account sealed envelopes (whose sender the server does not learn), whether
 * a send that cannot be sealed may go identified, and whether delivery receipts are sent. With no option it shows
 * the settings.
 */
export function privacyCommand(program: Command, run: Runner): void {
  program
    .command('privacy')
    .description('show or change the sealed-sender settings: who may send you messages the server cannot attribute, and the identified fallback')
    .option('--sealed-from <who>', '"anyone" (default; strangers can write to you sealed too) or "contacts" (only people you write to, who have your profile key)')
    .option('--identified-fallback <on|off>', 'on (default): a message that cannot be sealed goes identified (the server sees who sent it); off: it fails with SEALED_SENDER_UNAVAILABLE')
    .option('--delivery-receipts <on|off>', 'on (default): senders see ✓✓ delivered, a few seconds late (batched, random delay); off: they see only read')
    .action((cmd: { sealedFrom?: string; identifiedFallback?: string; deliveryReceipts?: string }, command: Command) =>
      run(async (opts, out) => {
        if (cmd.sealedFrom !== undefined && cmd.sealedFrom !== 'anyone' && cmd.sealedFrom !== 'contacts') {
          throw usage('--sealed-from takes "anyone" or "contacts"');
        }
        const fallback = cmd.identifiedFallback === undefined ? undefined : ON_OFF[cmd.identifiedFallback];
        if (cmd.identifiedFallback !== undefined && fallback === undefined) throw usage('--identified-fallback takes "on" or "off"');
        const receipts = cmd.deliveryReceipts === undefined ? undefined : ON_OFF[cmd.deliveryReceipts];
        if (cmd.deliveryReceipts !== undefined && receipts === undefined) throw usage('--delivery-receipts takes "on" or "off"');
        const { client, profile } = await openClient(opts);
        try {
          const settings =
            cmd.sealedFrom === undefined && fallback === undefined
              ? await client.sealedSenderSettings()
              : await client.setSealedSenderSettings({
                  ...(cmd.sealedFrom !== undefined ? { mode: cmd.sealedFrom } : {}),
                  ...(fallback !== undefined ? { allowIdentified: fallback } : {}),
                });
          if (receipts !== undefined) await client.setDeliveryReceipts(receipts);
          const deliveryReceipts = await client.deliveryReceipts();
          out.result(
            { sealedFrom: settings.mode, identifiedFallback: settings.allowIdentified, deliveryReceipts },
            [
              `Sealed sender from: ${settings.mode === 'anyone' ? 'anyone' : 'contacts only (people who have your profile key)'}`,
              `Identified fallback: ${settings.allowIdentified ? 'on (a message that cannot be sealed goes with your account visible to the server)' : 'off (a message that cannot be sealed is not sent)'}`,
              `Delivery receipts: ${deliveryReceipts ? 'on (batched, after a random delay)' : 'off'}`,
            ].join('\n'),
          );
        } finally {
          await client.close();
          await profile.close();
        }
      }, command),
    );
}
