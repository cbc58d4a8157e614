/**
 * Safety-number verification: the 60-digit number (the same on both sides) to compare in person or over a
 * trusted channel, and a QR code of the scannable form; scanning or pasting the other side's code checks it here
 * (the CLI's `verify --compare` uses the same base64url code).
 */
import { useCallback, useState } from 'react';
import type { FormEvent } from 'react';
import { CodeScanner, canScan } from '../components/code-scanner.js';
import { Icon } from '../components/icons.js';
import { Link } from '../components/link.js';
import { QrCode } from '../components/qr-code.js';
import { toBase64Url } from '../state/encoding.js';
import type { Messenger } from '../state/messenger.js';
import { matchesCode, useSafetyNumber } from '../state/verification.js';

export function VerifyScreen({ messenger, peer }: { messenger: Messenger; peer: string }) {
  const name = messenger.nameOf(peer);
  const { view, error, mark } = useSafetyNumber(messenger, peer);
  const [theirs, setTheirs] = useState('');
  const [result, setResult] = useState<'match' | 'mismatch'>();
  const [scanning, setScanning] = useState(false);

  const compare = async (event?: FormEvent, scanned?: string) => {
    event?.preventDefault();
    if (!view) return;
    const matches = matchesCode(view, scanned ?? theirs);
    setResult(matches ? 'match' : 'mismatch');
    if (matches) await mark(true);
  };
  const onScanned = useCallback(
    (code: string) => {
      setScanning(false);
      setTheirs(code);
      void compare(undefined, code);
    },
    // compare reads the current view: re-created when it changes.
    [view],
  );

  const groups = view?.formatted.split(/\s+/) ?? [];
  return (
    <section className="page" aria-labelledby="verify-title">
      <header className="pane-header">
        <Link to={{ name: 'chat', peer }} className="icon-button" label={`Back to the chat with ${name}`}>
          <Icon name="back" />
        </Link>
        <h2 id="verify-title">Safety number with {name}</h2>
      </header>
      <div className="page-body">
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {view && (
          <section className="card verify">
            <p className="help">
              Compare these numbers with {name}, in person or over a channel you trust. If they match, nobody is in the middle of your conversation.
            </p>
            <div className="safety-number" aria-label={`Safety number: ${view.formatted}`} data-testid="safety-number">
              {groups.map((g, i) => (
                <code key={i}>{g}</code>
              ))}
            </div>
            <QrCode text={toBase64Url(view.scannable)} label={`QR code of your safety number with ${name}`} />
            <p className="help">
              Or let {name} scan this code, or send them its text over a channel you trust: <code data-testid="my-code">{toBase64Url(view.scannable)}</code>
            </p>
            <p className="verified-state" role="status">
              {view.verified ? `✔ You have verified ${name}.` : `${name} is not verified.`}
            </p>
            <div className="row">
              {view.verified ? (
                <button type="button" onClick={() => void mark(false)}>
                  Clear verification
                </button>
              ) : (
                <button type="button" className="primary" onClick={() => void mark(true)}>
                  Mark as verified
                </button>
              )}
            </div>
            <form onSubmit={(e) => void compare(e)}>
              <label htmlFor="their-code">Their code</label>
              <input id="their-code" spellCheck={false} autoCapitalize="none" value={theirs} onChange={(e) => setTheirs(e.target.value)} />
              <div className="row">
                {canScan() && !scanning && (
                  <button type="button" onClick={() => setScanning(true)}>
                    Scan their QR code
                  </button>
                )}
                <button type="submit" disabled={theirs.trim() === ''}>
                  Compare
                </button>
              </div>
            </form>
            {scanning && <CodeScanner onCode={onScanned} onClose={() => setScanning(false)} />}
            {result && (
              <p className={result === 'match' ? 'ok' : 'error'} role="alert">
                {result === 'match' ? 'Their code matches: verified.' : 'Their code does NOT match. Do not mark this contact verified.'}
              </p>
            )}
          </section>
        )}
      </div>
    </section>
  );
}
