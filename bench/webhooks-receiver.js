#!/usr/bin/env node
// webhooks-receiver.js: a loopback webhook receiver for bench/webhooks (answers 200 at once, counts, records arrival times), and a paced POST client for its round-trip baseline.
//
// usage: node webhooks-receiver.js serve [--port=0] [--max-life-s=3600]
//        node webhooks-receiver.js ping URL N INTERVAL_MS BODY_FILE
//
// serve: an HTTP/1.1 server on 127.0.0.1 (port 0 picks a free one; the
// first line on stdout is "listening 127.0.0.1:PORT").  Any POST is read
// whole and answered 200 with an empty body at once (keep-alive).  It counts
// requests per path and those without a webhook-id header; for a path that
// starts with /lat it records the arrival time (wall clock, ms with
// microseconds: performance.timeOrigin + performance.now()) under the
// body's data.id (the prompt's id), first arrival only.
//   GET /_stats -> {requests, connections, no_webhook_id, paths: {path: n}}
//   GET /_lat   -> {prompt id: arrival ms}
//   POST /_reset zeroes all of it.
// Life is bounded: exits on SIGTERM/SIGINT, when its parent process goes
// away, or after max-life-s.
//
// ping: N POSTs of BODY_FILE to URL, one at a time, one every INTERVAL_MS
// (each starts at its slot, or at once when the previous one ran late), over
// one keep-alive connection; prints "n=N p50_ms=X p99_ms=Y max_ms=Z" (round
// trips, request written to response read).  Exit 1 on a non-2xx answer.
'use strict';
const http = require('http');
const fs = require('fs');
const { performance } = require('perf_hooks');

function opt(name, def) {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
}
const wallMs = () => performance.timeOrigin + performance.now();

function pct(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function serve() {
  const port = Number(opt('port', 0));
  const maxLife = Number(opt('max-life-s', 3600));
  let st, lat;
  const reset = () => {
    st = { requests: 0, connections: 0, no_webhook_id: 0, paths: {} };
    lat = {};
  };
  reset();
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const at = wallMs();
      const path = req.url.split('?')[0];
      if (path.startsWith('/_')) {
        let out = '';
        if (req.method === 'GET' && path === '/_stats') out = JSON.stringify(st);
        else if (req.method === 'GET' && path === '/_lat') out = JSON.stringify(lat);
        else if (req.method === 'POST' && path === '/_reset') { reset(); out = '{}'; }
        else { res.writeHead(404, { 'Content-Length': 0 }); res.end(); return; }
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(out) });
        res.end(out);
        return;
      }
      res.writeHead(200, { 'Content-Length': 0 });
      res.end();
      st.requests++;
      st.paths[path] = (st.paths[path] || 0) + 1;
      if (!req.headers['webhook-id']) st.no_webhook_id++;
      if (path.startsWith('/lat')) {
        try {
          const id = JSON.parse(Buffer.concat(chunks).toString('utf8')).data.id;
          if (id && lat[id] === undefined) lat[id] = at;
        } catch (e) { /* not an event body: counted, not timed */ }
      }
    });
  });
  server.keepAliveTimeout = 60000;
  server.on('connection', (s) => {
    st.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const quit = () => {
    server.close();
    for (const s of sockets) s.destroy();
    process.exit(0);
  };
  process.on('SIGTERM', quit);
  process.on('SIGINT', quit);
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) quit();   // reparented: our parent died
    try { process.kill(parent, 0); } catch (e) { quit(); }
  }, 1000).unref();
  setTimeout(quit, maxLife * 1000).unref();
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(`listening 127.0.0.1:${server.address().port}\n`);
  });
}

function ping() {
  const [url, nArg, intervalArg, bodyFile] = process.argv.slice(3);
  const n = Number(nArg), interval = Number(intervalArg);
  if (!url || !(n > 0) || !(interval >= 0) || !bodyFile) {
    process.stderr.write('usage: webhooks-receiver.js ping URL N INTERVAL_MS BODY_FILE\n');
    process.exit(2);
  }
  const body = fs.readFileSync(bodyFile);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const u = new URL(url);
  const rtt = [];
  const t0 = performance.now();
  const one = (i) => {
    if (i === n) {
      rtt.sort((a, b) => a - b);
      const f = (x) => x.toFixed(3);
      process.stdout.write(`n=${n} p50_ms=${f(pct(rtt, 50))} p99_ms=${f(pct(rtt, 99))} max_ms=${f(rtt[rtt.length - 1])}\n`);
      agent.destroy();
      return;
    }
    const start = performance.now();
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': body.length,
                 'webhook-id': `msg_ping_${i}` } }, (res) => {
      res.resume();
      res.on('end', () => {
        rtt.push(performance.now() - start);
        if (res.statusCode < 200 || res.statusCode > 299) {
          process.stderr.write(`ping: answer ${res.statusCode}\n`);
          process.exit(1);
        }
        const next = t0 + (i + 1) * interval;
        setTimeout(() => one(i + 1), Math.max(0, next - performance.now()));
      });
    });
    req.on('error', (e) => { process.stderr.write(`ping: ${e.message}\n`); process.exit(1); });
    req.end(body);
  };
  one(0);
}

const mode = process.argv[2];
if (mode === 'serve') serve();
else if (mode === 'ping') ping();
else {
  process.stderr.write('usage: webhooks-receiver.js serve [--port=0] [--max-life-s=3600] | ping URL N INTERVAL_MS BODY_FILE\n');
  process.exit(2);
}
