/** ClientStore for browsers, on IndexedDB. No Node imports: safe for the isomorphic package entry. */
export { IndexedDbClientStore } from './indexeddb-store.js';
