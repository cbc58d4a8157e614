/** The client–server contract (docs/api.md): identifiers, shared limits, error codes. */
export * from './ids.js';
export * from './limits.js';
export * from './errors.js';
