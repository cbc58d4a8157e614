/**
 * `samizdat chat NAME`: an interactive conversation in the terminal. Shows the recent history, then live messages;
 * marks what it shows as read (read receipts go to the sender); sends typing indicators while you type; shows
 * ✓ (stored by the server), ✓✓ (delivered), ✓✓ read on your messages.
 *
 * Commands: /edit N text, /delete N, /react N emoji, /reply N text, /timer SECONDS, /attach FILE [text], /verify,
 * /quit. N is the number shown in front of a message.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { createInterface, emitKeypressEvents } from 'node:readline';
import type { Client, ContactRecord, MessageRecord } from '@samizdat/client';
import { describeError } from '../output.js';
import { saveAttachments, startReceiving } from '../commands/receive.js';

const TYPING_IDLE_MS = 3000;

const TICKS: Record<string, string> = { pending: '…', sent: '✓', delivered: '✓✓', read: '✓✓ read', failed: '✗ failed', received: '' };

export async function runChat(client: Client, peer: ContactRecord, attachmentDir: string): Promise<void> {
  const name = peer.username ?? peer.accountId.slice(0, 8);
  const numbered: MessageRecord[] = [];
  const numberOf = new Map<string, number>();
  const input = process.stdin;
  const output = process.stdout;
  const rl = createInterface({ input, output, prompt: `${name}> `, terminal: input.isTTY === true });

  const print = (line: string) => {
    if (input.isTTY) {
      output.write('\r\x1b[K');
      output.write(`${line}\n`);
      rl.prompt(true);
    } else output.write(`${line}\n`);
  };

  const render = async (m: MessageRecord, saved: readonly { file?: string; error?: string }[] = []): Promise<string> => {
    const time = new Date(m.timestamp).toLocaleTimeString();
    if (m.kind === 'system') {
      if (m.event === 'identity-changed') return `${time} ⚠ the safety number with ${name} changed — verify it again (/verify)`;
      if (m.event === 'undecryptable') return `${time} ⚠ a message from ${name} could not be decrypted; asked them to resend it`;
      if (m.event === 'timer-changed') return `${time} disappearing messages: ${m.body === '0' ? 'off' : `${m.body} s`}`;
      if (m.event === 'history-unavailable') return `${time} this device was linked here: earlier messages are on your other devices, not on this one`;
      return `${time} (${m.event ?? 'event'})`;
    }
    let n = numberOf.get(m.id);
    if (n === undefined) {
      numbered.push(m);
      n = numbered.length;
      numberOf.set(m.id, n);
    } else numbered[n - 1] = m;
    const who = m.direction === 'outgoing' ? 'me' : await client.displayName(m.author);
    const body = m.deleted ? '(deleted)' : (m.body ?? '');
    const files = (m.attachments ?? []).map((a, i) => (saved[i]?.file ? ` [file: ${saved[i]?.file}]` : ` [${a.fileName ?? 'attachment'}, ${a.size} bytes]`)).join('');
    const quote = m.quote ? ` (reply to ${numberOf.get(m.quote.id) ?? m.quote.id.slice(0, 8)})` : '';
    const reactions = m.reactions?.length ? ` ${m.reactions.map((r) => r.emoji).join('')}` : '';
    const edited = m.editedAt ? ' (edited)' : '';
    const ticks = m.direction === 'outgoing' ? ` ${TICKS[m.status] ?? ''}` : '';
    return `[${n}] ${time} ${who}${quote}: ${body}${files}${edited}${reactions}${ticks}`;
  };

  for (const m of await client.history(peer.accountId, { limit: 20 })) print(await render(m));
  await client.markRead(peer.accountId).catch(() => 0);

  const inConversation = (m: MessageRecord) => m.conversation === peer.accountId;
  let chain = Promise.resolve();
  const later = (fn: () => Promise<void>): void => {
          chain = chain.then(fn).catch(() => undefined);
        };
  client.on('message', (m) => {
    if (!inConversation(m)) return;
    later(async () => {
      const saved = m.attachments?.length ? await saveAttachments(client, m, attachmentDir) : [];
      print(await render(m, saved));
      if (m.direction === 'incoming') await client.markRead(peer.accountId);
    });
  });
  client.on('message-updated', (m) => {
    if (!inConversation(m) || !numberOf.has(m.id)) return;
    later(async () => print(await render(m)));
  });
  client.on('typing', (t) => {
    if (t.conversation !== peer.accountId) return;
    print(t.action === 'started' ? `${name} is typing…` : `${name} stopped typing`);
  });

  // Typing indicators: "started" on the first key, "stopped" after a pause or on send.
  let typingTimer: ReturnType<typeof setTimeout> | undefined;
  const stopTyping = () => {
    if (!typingTimer) return;
    clearTimeout(typingTimer);
    typingTimer = undefined;
    void client.sendTyping(peer.accountId, 'stopped').catch(() => undefined);
  };
  if (input.isTTY) {
    emitKeypressEvents(input);
    input.on('keypress', (_s: string, key: { name?: string } | undefined) => {
      if (key?.name === 'return') return;
      if (!typingTimer) void client.sendTyping(peer.accountId, 'started').catch(() => undefined);
      else clearTimeout(typingTimer);
      typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
    });
  }

  const { finished } = await startReceiving(client);
  finished.catch((err: unknown) => {
    print(`samizdat: ${describeError(err).message}`);
    rl.close();
  });

  const byNumber = (text: string | undefined): MessageRecord => {
    const m = numbered[Number(text) - 1];
    if (!m) throw new Error(`no message number ${text ?? ''}`);
    return m;
  };

  const handle = async (line: string): Promise<boolean> => {
    const [command, ...rest] = line.trim().split(' ');
    const arg = rest.join(' ');
    switch (command) {
      case '':
        return true;
      case '/quit':
      case '/exit':
        return false;
      case '/edit': {
        const [n, ...text] = rest;
        await client.editMessage(peer.accountId, byNumber(n).id, text.join(' '));
        return true;
      }
      case '/delete':
        await client.deleteForEveryone(peer.accountId, byNumber(arg).id);
        return true;
      case '/react': {
        const [n, emoji] = rest;
        const m = byNumber(n);
        await client.react(peer.accountId, { id: m.id, author: m.author }, emoji ?? '👍');
        return true;
      }
      case '/reply': {
        const [n, ...text] = rest;
        const m = byNumber(n);
        await client.sendText(peer.accountId, text.join(' '), { quote: { id: m.id, author: m.author } });
        return true;
      }
      case '/timer':
        await client.setExpireTimer(peer.accountId, Number(arg));
        return true;
      case '/attach': {
        const [file, ...text] = rest;
        if (!file) throw new Error('/attach FILE [text]');
        const data = new Uint8Array(await readFile(file));
        await client.sendText(peer.accountId, text.join(' '), { attachments: [{ data, contentType: 'application/octet-stream', fileName: basename(file) }] });
        return true;
      }
      case '/verify': {
        const sn = await client.safetyNumber(peer.accountId);
        print(`Safety number with ${name}: ${sn.formatted}${sn.verified ? ' (verified)' : ''}`);
        return true;
      }
      default:
        if (command?.startsWith('/')) throw new Error('commands: /edit N text, /delete N, /react N emoji, /reply N text, /timer S, /attach FILE, /verify, /quit');
        stopTyping();
        await client.sendText(peer.accountId, line);
        return true;
    }
  };

  rl.prompt();
  for await (const line of rl) {
    let go = true;
    try {
      go = await handle(line);
    } catch (err) {
      print(`samizdat: ${err instanceof Error && !('code' in err) ? err.message : describeError(err).message}`);
    }
    if (!go) break;
    rl.prompt();
  }
  stopTyping();
  rl.close();
  await chain;
}
