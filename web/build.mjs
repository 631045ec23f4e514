// build.mjs - bundles the monitor (src/monitor.js and mqtt.js) with
// esbuild into dist/, next to a copy of index.html and monitor.css: the
// static files Mosquitto's websockets listener serves with http_dir.
// Prints the bundle's size, plain and gzipped. Nothing is fetched at run
// time: the page loads only what dist/ holds.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist);
await build({
  entryPoints: [join(here, 'src', 'monitor.js')],
  bundle: true,
  minify: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2020'],
  outfile: join(dist, 'monitor.js'),
  logLevel: 'warning',
});
for (const file of ['index.html', 'monitor.css']) {
  copyFileSync(join(here, file), join(dist, file));
}
const bundle = readFileSync(join(dist, 'monitor.js'));
console.log(`web/dist/monitor.js: ${bundle.length} bytes, ${gzipSync(bundle).length} gzipped`);
