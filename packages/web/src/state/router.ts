/**
 * The app's routes, on the history API (the server answers index.html for every non-API path, so a reload or a
 * shared link of `/chat/…` opens the app there). No router library: nine routes do not need one.
 *
 * A conversation is a person (their 32-hex account id) or a group (its 64-hex MLS group id): both open at `/chat/…`.
 */
import { ACCOUNT_ID_PATTERN, isGroupId } from '@samizdat/protocol';
import { useSyncExternalStore } from 'react';

/** True for a group conversation's id, false for a person's account id (the wire contract's, re-exported for the screens). */
export { isGroupId };

export type Route =
  | { readonly name: 'chats' }
  | { readonly name: 'chat'; readonly peer: string }
  | { readonly name: 'requests' }
  | { readonly name: 'new' }
  | { readonly name: 'new-group' }
  | { readonly name: 'group'; readonly group: string }
  | { readonly name: 'devices' }
  | { readonly name: 'settings' }
  | { readonly name: 'verify'; readonly peer: string };

const PEER = ACCOUNT_ID_PATTERN;

export function parseRoute(pathname: string): Route {
  const [, first, second] = pathname.split('/');
  if (first === 'chat' && second !== undefined && (PEER.test(second) || isGroupId(second))) return { name: 'chat', peer: second };
  if (first === 'group' && second !== undefined && isGroupId(second)) return { name: 'group', group: second };
  if (first === 'verify' && second !== undefined && PEER.test(second)) return { name: 'verify', peer: second };
  if (first === 'requests') return { name: 'requests' };
  if (first === 'new') return { name: 'new' };
  if (first === 'new-group') return { name: 'new-group' };
  if (first === 'devices') return { name: 'devices' };
  if (first === 'settings') return { name: 'settings' };
  return { name: 'chats' };
}

export function pathOf(route: Route): string {
  switch (route.name) {
    case 'chats':
      return '/';
    case 'chat':
      return `/chat/${route.peer}`;
    case 'verify':
      return `/verify/${route.peer}`;
    case 'group':
      return `/group/${route.group}`;
    default:
      return `/${route.name}`;
  }
}

const CHANGE = 'samizdat:navigate';

export function navigate(route: Route, options: { replace?: boolean } = {}): void {
  const path = pathOf(route);
  if (path === location.pathname) return;
  if (options.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.dispatchEvent(new Event(CHANGE));
}

function subscribe(listener: () => void): () => void {
  window.addEventListener('popstate', listener);
  window.addEventListener(CHANGE, listener);
  return () => {
    window.removeEventListener('popstate', listener);
    window.removeEventListener(CHANGE, listener);
  };
}

export function usePathname(): string {
  return useSyncExternalStore(subscribe, () => location.pathname);
}

export function useRoute(): Route {
  return parseRoute(usePathname());
}
