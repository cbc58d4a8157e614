/**
 * First visit: create an account (this browser becomes its first device) or link this browser to an account that
 * exists on another device (the other device scans or types the code shown here).
 */
import { useEffect, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import type { Client, ClientOptions } from '@samizdat/client';
import { QrCode } from '../components/qr-code.js';
import { useActions } from '../state/actions.js';
import { linkAccount, registerAccount } from '../state/session.js';

const USERNAME = /^[A-Za-z][A-Za-z0-9_.]{2,31}$/;

export function WelcomeScreen({ options, onReady }: { options: ClientOptions; onReady: (client: Client) => void }) {
  const [mode, setMode] = useState<'register' | 'link'>('register');
  return (
    <main className="welcome">
      <header className="welcome-header">
        <img src="/favicon.svg" alt="" width={48} height={48} />
        <h1>Samizdat</h1>
        <p>End-to-end encrypted messages. Your keys are made and kept in this browser; the server at {location.host} only relays ciphertext.</p>
      </header>
      {mode === 'register' ? (
        <RegisterForm options={options} onReady={onReady} onLink={() => setMode('link')} />
      ) : (
        <LinkPanel options={options} onReady={onReady} onCancel={() => setMode('register')} />
      )}
    </main>
  );
}

function RegisterForm({ options, onReady, onLink }: { options: ClientOptions; onReady: (client: Client) => void; onLink: () => void }) {
  const [username, setUsername] = useState('');
  const actions = useActions();
  const { error } = actions;
  const busy = actions.pending.has('register');
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const name = username.trim().replace(/^@/, '');
    if (!USERNAME.test(name)) {
      actions.fail('Usernames are 3–32 letters, digits, "_" or ".", starting with a letter.');
      return;
    }
    await actions.run('register', async () => onReady(await registerAccount(options, name)));
  };
  return (
    <section className="card" aria-labelledby="register-title">
      <h2 id="register-title">Create an account</h2>
      <form onSubmit={(e) => void submit(e)}>
        <label htmlFor="username">Username</label>
        <input
          id="username"
          name="username"
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          required
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          aria-describedby="username-help"
          aria-invalid={error !== undefined}
          disabled={busy}
        />
        <p id="username-help" className="help">
          How others find you. 3–32 letters, digits, "_" or ".". No phone number or e-mail.
        </p>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Creating keys…' : 'Create account'}
        </button>
      </form>
      <p className="alt">
        Already use Samizdat on another device?{' '}
        <button type="button" className="link-button" onClick={onLink}>
          Link this browser
        </button>
      </p>
    </section>
  );
}

function LinkPanel({ options, onReady, onCancel }: { options: ClientOptions; onReady: (client: Client) => void; onCancel: () => void }) {
  const [code, setCode] = useState<string>();
  const { error, fail, clear } = useActions();
  const [attempt, setAttempt] = useState(0);
  const [copied, setCopied] = useState(false);
  const ready = useRef(onReady);
  ready.current = onReady;
  useEffect(() => {
    const abort = new AbortController();
    setCode(undefined);
    clear();
    linkAccount(options, setCode, abort.signal).then(
      (client) => ready.current(client),
      (err: unknown) => {
        if (!abort.signal.aborted) fail(err);
      },
    );
    return () => abort.abort();
  }, [options, attempt, clear, fail]);
  const copy = () => {
    if (code) void navigator.clipboard?.writeText(code).then(() => setCopied(true), () => undefined);
  };
  return (
    <section className="card" aria-labelledby="link-title">
      <h2 id="link-title">Link this browser</h2>
      <p>This browser becomes a new device of your account. On a device that already has your account:</p>
      <ul>
        <li>
          in the terminal: <code>samizdat devices add CODE</code>
        </li>
        <li>in Samizdat on the web: Devices → Add a device, then scan or paste the code</li>
      </ul>
      {error ? (
        <>
          <p className="error" role="alert">
            {error}
          </p>
          <button type="button" onClick={() => setAttempt((n) => n + 1)}>
            New code
          </button>
        </>
      ) : code ? (
        <div className="link-code">
          <QrCode text={code} label="QR code of the link code" />
          <label htmlFor="link-code">Link code</label>
          <textarea id="link-code" readOnly value={code} rows={3} onFocus={(e) => e.currentTarget.select()} data-testid="link-code" />
          <button type="button" onClick={copy}>
            {copied ? 'Copied' : 'Copy code'}
          </button>
          <p className="help" role="status">
            Waiting for your other device… The code works once, for 10 minutes.
          </p>
        </div>
      ) : (
        <p role="status">Asking the server for a code…</p>
      )}
      <p className="alt">
        <button type="button" className="link-button" onClick={onCancel}>
          Create a new account instead
        </button>
      </p>
    </section>
  );
}
