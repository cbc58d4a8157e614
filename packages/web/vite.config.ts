/**
 * The web client's build: one HTML page, its script and stylesheet as files under /assets (content-hashed), nothing
 * inline and nothing from another origin, so that the server's Content Security Policy (script-src 'self') holds.
 * `public/sw.js` (the offline service worker) is copied as it is.
 */
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  base: '/',
  resolve: {
    // A dependency's Node-only fallback (see the module); the browser's own WebCrypto is what runs.
    alias: [{ find: /^crypto$/, replacement: fileURLToPath(new URL('./src/shims/node-crypto.ts', import.meta.url)) }],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Never turn an asset into a data: URL inside the script or stylesheet; every file is served from /assets.
    assetsInlineLimit: 0,
    // Modern browsers preload modules natively; the polyfill would only add code.
    modulePreload: { polyfill: false },
    sourcemap: false,
    // Lists every emitted file, lazily loaded chunks included, for the service worker to keep for offline use.
    manifest: 'asset-manifest.json',
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1500,
  },
});
