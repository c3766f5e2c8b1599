/// <reference types="vitest/config" />
import { resolve } from 'node:path';
import { defineConfig } from 'vite';
import { chartingLibrary } from './charting-library-plugin.ts';

/**
 * Three pages: the lightweight-charts app (index.html), several of its charts on
 * one page (grid.html) and the page for owners of TradingView's Charting Library
 * (tv.html). `base: './'` keeps every asset URL relative, so `dist/` works
 * wherever the worker mounts it.
 */
export default defineConfig({
  base: './',
  plugins: [chartingLibrary(resolve(import.meta.dirname, 'charting_library'))],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // lightweight-charts is ~160 kB minified on its own; one chunk is fine here.
    chunkSizeWarningLimit: 400,
    rolldownOptions: {
      // The drawing code (lightweight-charts and src/chart/) in one chunk of a stable name,
      // whichever page modules happen to share it (the wheel test finds it by that name).
      output: {
        codeSplitting: { groups: [{ name: 'lightweight-view', test: /lightweight-charts|[\\/]src[\\/]chart[\\/]/ }] },
      },
      input: {
        index: resolve(import.meta.dirname, 'index.html'),
        tv: resolve(import.meta.dirname, 'tv.html'),
        grid: resolve(import.meta.dirname, 'grid.html'),
      },
    },
  },
  server: {
    // `npm run dev` proxies the API to a worker started with `make run`.
    proxy: {
      '/udf': { target: process.env.CANDLEFLOW_WORKER_URL ?? 'http://127.0.0.1:6066', changeOrigin: true },
      '/api': { target: process.env.CANDLEFLOW_WORKER_URL ?? 'http://127.0.0.1:6066', changeOrigin: true },
      '/healthz': { target: process.env.CANDLEFLOW_WORKER_URL ?? 'http://127.0.0.1:6066', changeOrigin: true },
    },
  },
  test: {
    environment: 'node',
    include: ['test/**/*.test.ts'],
  },
});
