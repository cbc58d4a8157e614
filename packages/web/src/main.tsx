/** Entry point: theme, the offline service worker, and the app. */
import { createRoot } from 'react-dom/client';
import { App } from './app.js';
import { applyTheme } from './state/settings.js';
import './styles.css';

applyTheme();

// The app shell is cached so that the page opens without the server (history from IndexedDB). Service workers
// exist only in secure contexts (https, or http on localhost), which WebCrypto needs anyway.
if ('serviceWorker' in navigator && window.isSecureContext) {
  void navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => undefined);
}

const root = document.getElementById('root');
if (root) {
  // No StrictMode: its doubled effects would open the profile twice, and two clients of one device fight over the
  // server connection.
  createRoot(root).render(<App />);
}
