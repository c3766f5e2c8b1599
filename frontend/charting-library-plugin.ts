/**
 * Vite plugin for TradingView's Charting Library, which is licensed and never
 * committed: the owner copies it into `frontend/charting_library/` (git ignores
 * everything there but README.md). `vite dev` serves that folder at
 * `/charting_library/`, and `vite build` copies it to `dist/charting_library/`,
 * where tv.html looks for `charting_library.standalone.js`. Without the library
 * the build still succeeds and tv.html explains what to do. Either way the build
 * writes `charting-library.json` (`{"present": true|false}`), which tv.html reads
 * first: asking for a library that is not there would put a 404 in the console.
 */
import { cpSync, createReadStream, existsSync, statSync, writeFileSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { Plugin, ResolvedConfig } from 'vite';

const MOUNT = '/charting_library/';
const MANIFEST = 'charting-library.json';
const SKIPPED = new Set(['README.md']);
const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

export function chartingLibrary(folder: string): Plugin {
  let config: ResolvedConfig | undefined;
  return {
    name: 'candleflow:charting-library',
    configResolved(resolved) {
      config = resolved;
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const url = (req.url ?? '').split('?')[0] ?? '';
        if (url.endsWith(`/${MANIFEST}`)) {
          res.setHeader('Content-Type', 'application/json');
          res.end(JSON.stringify({ present: existsSync(join(folder, 'charting_library.standalone.js')) }));
          return undefined;
        }
        const at = url.indexOf(MOUNT);
        if (at < 0) {
          next();
          return;
        }
        const file = normalize(join(folder, decodeURIComponent(url.slice(at + MOUNT.length))));
        if (!file.startsWith(folder + sep) || !existsSync(file) || !statSync(file).isFile()) {
          res.statusCode = 404;
          res.end('not found');
          return undefined;
        }
        res.setHeader('Content-Type', CONTENT_TYPES[extname(file)] ?? 'application/octet-stream');
        createReadStream(file).pipe(res);
        return undefined;
      });
    },
    closeBundle() {
      if (config?.command !== 'build') return;
      const present = existsSync(join(folder, 'charting_library.standalone.js'));
      writeFileSync(resolve(config.root, config.build.outDir, MANIFEST), JSON.stringify({ present }));
      if (!present) {
        config.logger.info('charting_library/ holds no Charting Library: tv.html will explain how to add it');
        return;
      }
      const target = resolve(config.root, config.build.outDir, 'charting_library');
      cpSync(folder, target, {
        recursive: true,
        filter: (source) => !SKIPPED.has(source.slice(folder.length + 1)),
      });
      config.logger.info(`copied the Charting Library into ${target}`);
    },
  };
}
