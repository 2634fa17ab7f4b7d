// A tiny static server for the benchmark page, on 127.0.0.1 only. It serves the repository root but only
// below a few prefixes, with COOP/COEP so the page is cross-origin isolated (performance.now() then has
// ~5 µs resolution in Chromium instead of 100 µs) and `application/wasm` so streaming compilation is used.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json', '.onnx': 'application/octet-stream',
  '.bin': 'application/octet-stream', '.catalog': 'application/octet-stream',
};
const ALLOWED = ['/bench/page.html', '/bench/page.mjs', '/bench/memories.js', '/bench/out/', '/bench/node_modules/onnxruntime-web/dist/', '/models/', '/packages/nextclick/sdk/engine.js',
  // the npm vector-search libraries' page (BENCH_ONLY=vector-libs)
  '/bench/vector-libs.html', '/bench/vector-libs.mjs', '/bench/node_modules/hnswlib-wasm/dist/', '/bench/node_modules/voy-search/'];

export function startServer(root, port = 0) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const p = decodeURIComponent(url.pathname);
    const file = path.join(root, path.normalize(p));
    if (!file.startsWith(root + path.sep) || !ALLOWED.some((a) => p.startsWith(a)) || p.includes('..')) {
      res.writeHead(404).end();
      return;
    }
    fs.stat(file, (err, st) => {
      if (err || !st.isFile()) { res.writeHead(404).end(); return; }
      // a single byte range (a split catalog's body chunks), else the whole file
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range || '');
      const [a, b] = m ? [+m[1], Math.min(+m[2], st.size - 1)] : [0, st.size - 1];
      if (m && a > b) { res.writeHead(416, { 'Content-Range': `bytes */${st.size}` }).end(); return; }
      res.writeHead(m ? 206 : 200, {
        'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
        'Content-Length': b - a + 1,
        'Accept-Ranges': 'bytes',
        ...(m ? { 'Content-Range': `bytes ${a}-${b}/${st.size}` } : {}),
        // Cacheable, as a CDN would serve it: the cold runs use fresh browser contexts (empty caches); the
        // repeat-view runs navigate a second time in the same context (HTTP cache + V8's wasm code cache).
        'Cache-Control': 'public, max-age=3600',
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
        'Cross-Origin-Resource-Policy': 'same-origin',
      });
      fs.createReadStream(file, { start: a, end: b }).pipe(res);
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}
