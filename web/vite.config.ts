// Builds the dashboard into the Python package (src/balupi/web/dist), which BaluPi serves at `/`.
// Every file also gets a .gz twin that BaluPi sends to browsers accepting gzip; the build prints
// the compressed size of the first load (HTML + JS + CSS), which must stay under 300 KB.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

const OUT_DIR = fileURLToPath(new URL('../src/balupi/web/dist', import.meta.url));
const FIRST_LOAD_BUDGET = 300 * 1024;

function gzipTwins(): Plugin {
  return {
    name: 'balupi-gzip-twins',
    apply: 'build',
    writeBundle(options, bundle) {
      const dir = options.dir ?? OUT_DIR;
      let firstLoad = 0;
      for (const [name, item] of Object.entries(bundle)) {
        const source = item.type === 'chunk' ? item.code : item.source;
        const zipped = gzipSync(source, { level: 9 });
        writeFileSync(join(dir, `${name}.gz`), zipped);
        if (/\.(html|js|css)$/.test(name)) firstLoad += zipped.length;
      }
      const kb = (firstLoad / 1024).toFixed(1);
      console.log(`first load (HTML + JS + CSS, gzip -9): ${kb} KB of ${FIRST_LOAD_BUDGET / 1024} KB`);
      if (firstLoad > FIRST_LOAD_BUDGET) this.error(`first load is ${kb} KB, over the budget`);
    },
  };
}

export default defineConfig({
  plugins: [gzipTwins()],
  build: {
    outDir: OUT_DIR,
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
  server: {
    // `npm run dev` against a running BaluPi (`balupi demo --port 8000`).
    proxy: { '/api': 'http://127.0.0.1:8000' },
  },
});
