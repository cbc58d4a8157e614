/**
 * Settings kept in this browser only (localStorage): the display name and the theme. The display name is not sent
 * to contacts yet (the SDK has no profile-name message); contacts see the username.
 */
import { useSyncExternalStore } from 'react';

export type Theme = 'system' | 'light' | 'dark';

export interface Settings {
  readonly displayName: string;
  readonly theme: Theme;
}

const KEYS = { displayName: 'samizdat.displayName', theme: 'samizdat.theme' } as const;
const CHANGE = 'samizdat:settings';

function read(): Settings {
  const theme = localStorage.getItem(KEYS.theme);
  return {
    displayName: localStorage.getItem(KEYS.displayName) ?? '',
    theme: theme === 'light' || theme === 'dark' ? theme : 'system',
  };
}

let current = read();

function subscribe(listener: () => void): () => void {
  const onChange = () => {
    current = read();
    listener();
  };
  window.addEventListener('storage', onChange);
  window.addEventListener(CHANGE, onChange);
  return () => {
    window.removeEventListener('storage', onChange);
    window.removeEventListener(CHANGE, onChange);
  };
}

export function useSettings(): Settings {
  return useSyncExternalStore(subscribe, () => current);
}

export function saveSettings(change: Partial<Settings>): void {
  if (change.displayName !== undefined) {
    const name = change.displayName.trim();
    if (name) localStorage.setItem(KEYS.displayName, name);
    else localStorage.removeItem(KEYS.displayName);
  }
  if (change.theme !== undefined) localStorage.setItem(KEYS.theme, change.theme);
  current = read();
  applyTheme(current.theme);
  window.dispatchEvent(new Event(CHANGE));
}

export function clearSettings(): void {
  for (const key of Object.values(KEYS)) localStorage.removeItem(key);
  current = read();
  applyTheme(current.theme);
  window.dispatchEvent(new Event(CHANGE));
}

/** `system` follows prefers-color-scheme (in the stylesheet); light and dark override it. */
export function applyTheme(theme: Theme = current.theme): void {
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}
