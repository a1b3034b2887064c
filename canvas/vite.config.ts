// Builds the page into wfc/canvas/static/, which the Python package ships (and commits): the
// server serves `/` and `/assets/*` from there. Same sources + lockfile give the same bytes
// (tests/test_canvas_bundle.py rebuilds and compares). WFC_CANVAS_OUT_DIR redirects the output.
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

const outDir = process.env.WFC_CANVAS_OUT_DIR ?? new URL('../wfc/canvas/static', import.meta.url).pathname;

export default defineConfig({
  base: './',
  plugins: [svelte()],
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1000,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: { '/api': process.env.WFC_CANVAS_API ?? 'http://127.0.0.1:8500' },
  },
});
