#!/usr/bin/env node
// llm-model.js: a loopback OpenAI-compatible chat-completions server for bench/gateway (answers after a set latency, optional faults, counts calls).
//
// usage: node llm-model.js [--port=N] [--latency-ms=1000] [--fail=0.3]
//                          [--faults=500,429,garbage,empty,stall] [--stall-ms=20000]
//                          [--error-ms=50] [--max-life-s=7200]
// Each option also reads an environment variable: LLM_PORT, LLM_LATENCY_MS,
// LLM_FAIL, LLM_FAULTS, LLM_STALL_MS, LLM_ERROR_MS, LLM_MAX_LIFE_S.
// Port 0 (the default) picks a free port; the first line on stdout is
// "listening 127.0.0.1:PORT".
//
// POST /v1/chat/completions {model, messages, stream?, stream_options?}
//   -> 200 JSON, or 200 text/event-stream (chat.completion.chunk deltas, a
//   last chunk with finish_reason "stop", a usage chunk when
//   stream_options.include_usage, then "data: [DONE]"), after latency-ms.
//   The answer is "Improved: " + the last user message, verbatim, so every
//   {{variable}} of the prompt survives.
// With --fail=F a fraction F of calls fail instead, the kind picked evenly
// among --faults: 500 (after error-ms), 429 with Retry-After 0 or 1 (after
// error-ms), garbage (200 with a body that is not JSON, after latency-ms),
// empty (200 with empty content, after latency-ms), stall (the request is
// read, then nothing is sent for stall-ms and the connection is dropped).
// GET /stats -> {requests, ok, faults: {kind: n}, inflight, max_inflight,
//   config}; POST /stats/reset zeroes the counters.
// POST /config {latency_ms?, fail?, faults?, stall_ms?, error_ms?} changes
//   the behaviour of later calls (the benchmark switches to fault mode).
// Life is bounded: exits on SIGTERM/SIGINT, when its parent process goes
// away, or after max-life-s.
'use strict';
const http = require('http');

function opt(name, env, def) {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  if (a) return a.slice(name.length + 3);
  return process.env[env] !== undefined && process.env[env] !== '' ? process.env[env] : def;
}

const cfg = {
  latency_ms: Number(opt('latency-ms', 'LLM_LATENCY_MS', 1000)),
  fail: Number(opt('fail', 'LLM_FAIL', 0)),
  faults: String(opt('faults', 'LLM_FAULTS', '500,429,garbage,empty,stall')).split(',').filter(Boolean),
  stall_ms: Number(opt('stall-ms', 'LLM_STALL_MS', 20000)),
  error_ms: Number(opt('error-ms', 'LLM_ERROR_MS', 50)),
};
const port = Number(opt('port', 'LLM_PORT', 0));
const maxLife = Number(opt('max-life-s', 'LLM_MAX_LIFE_S', 7200));

let stats;
function resetStats() {
  stats = { requests: 0, ok: 0, faults: {}, streams: 0, inflight: 0, max_inflight: 0, models: {} };
}
resetStats();

const sockets = new Set();
let nextId = 1;

function send(res, status, headers, body) {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, { 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function lastUser(messages) {
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m && m.role === 'user') {
      if (typeof m.content === 'string') return m.content;
      if (Array.isArray(m.content)) return m.content.map((p) => (p && p.text) || '').join('');
    }
  }
  return '';
}

function usageOf(req, text) {
  const inTok = Math.ceil(JSON.stringify(req.messages || []).length / 4);
  const outTok = Math.ceil(text.length / 4);
  return { prompt_tokens: inTok, completion_tokens: outTok, total_tokens: inTok + outTok };
}

function answerJson(res, req, text) {
  const body = JSON.stringify({
    id: `chatcmpl-bench-${nextId++}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000),
    model: req.model || 'bench-model',
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: usageOf(req, text),
  });
  send(res, 200, { 'Content-Type': 'application/json' }, body);
}

function answerStream(res, req, text) {
  if (res.destroyed) return;
  const id = `chatcmpl-bench-${nextId++}`;
  const created = Math.floor(Date.now() / 1000);
  const model = req.model || 'bench-model';
  const chunk = (delta, finish, extra) => `data: ${JSON.stringify({
    id, object: 'chat.completion.chunk', created, model,
    choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  let out = chunk({ role: 'assistant', content: '' }, null);
  for (let i = 0; i < text.length; i += 48) out += chunk({ content: text.slice(i, i + 48) }, null);
  out += chunk({}, 'stop');
  if (req.stream_options && req.stream_options.include_usage) {
    out += `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model,
      choices: [], usage: usageOf(req, text) })}\n\n`;
  }
  res.end(out + 'data: [DONE]\n\n');
}

// One fault of the given kind; returns after arranging the answer.
function fault(kind, res, req) {
  stats.faults[kind] = (stats.faults[kind] || 0) + 1;
  const json = { 'Content-Type': 'application/json' };
  switch (kind) {
    case '500':
      return later(cfg.error_ms, () => send(res, 500, json,
        '{"error":{"message":"The server had an error while processing your request.","type":"server_error"}}'));
    case '429':
      return later(cfg.error_ms, () => send(res, 429, { ...json, 'Retry-After': String(Math.round(Math.random())) },
        '{"error":{"message":"Rate limit reached. Please try again.","type":"rate_limit_error"}}'));
    case 'garbage':
      return later(cfg.latency_ms, () => send(res, 200, req.stream ? { 'Content-Type': 'text/event-stream' } : json,
        req.stream ? 'data: <html>upstream garbage\n\n' : '<html><body>502 Bad Gateway (not JSON)</body></html>'));
    case 'empty':
      return later(cfg.latency_ms, () => (req.stream ? answerStream(res, req, '') : answerJson(res, req, '')));
    default: // stall: say nothing, then drop the connection
      return later(cfg.stall_ms, () => res.socket && res.socket.destroy());
  }
}

function later(ms, fn) {
  setTimeout(fn, ms);
}

function chat(res, body) {
  let req;
  try {
    req = JSON.parse(body);
  } catch (e) {
    return send(res, 400, { 'Content-Type': 'application/json' }, '{"error":{"message":"invalid JSON body"}}');
  }
  stats.requests++;
  stats.models[req.model] = (stats.models[req.model] || 0) + 1;
  if (req.stream) stats.streams++;
  stats.inflight++;
  if (stats.inflight > stats.max_inflight) stats.max_inflight = stats.inflight;
  res.on('close', () => stats.inflight--);
  if (cfg.fail > 0 && cfg.faults.length && Math.random() < cfg.fail)
    return fault(cfg.faults[Math.floor(Math.random() * cfg.faults.length)], res, req);
  const text = 'Improved: ' + lastUser(req.messages);
  later(cfg.latency_ms, () => {
    stats.ok++;
    if (req.stream) answerStream(res, req, text);
    else answerJson(res, req, text);
  });
}

const server = http.createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    const path = req.url.split('?')[0];
    const json = { 'Content-Type': 'application/json' };
    if (req.method === 'POST' && /\/chat\/completions$/.test(path)) return chat(res, body);
    if (req.method === 'GET' && path === '/stats')
      return send(res, 200, json, JSON.stringify({ ...stats, config: cfg }));
    if (req.method === 'POST' && path === '/stats/reset') {
      resetStats();
      return send(res, 200, json, '{"ok":true}');
    }
    if (req.method === 'POST' && path === '/config') {
      let c;
      try { c = JSON.parse(body || '{}'); } catch (e) { return send(res, 400, json, '{"error":"invalid JSON"}'); }
      for (const k of ['latency_ms', 'fail', 'stall_ms', 'error_ms']) if (c[k] !== undefined) cfg[k] = Number(c[k]);
      if (c.faults !== undefined) cfg.faults = String(c.faults).split(',').filter(Boolean);
      return send(res, 200, json, JSON.stringify(cfg));
    }
    if (req.method === 'GET' && path === '/v1/models')
      return send(res, 200, json, '{"object":"list","data":[{"id":"bench-model","object":"model"}]}');
    return send(res, 404, json, '{"error":{"message":"not found"}}');
  });
});
server.keepAliveTimeout = 120000;
server.headersTimeout = 125000;
server.requestTimeout = 0;
server.on('connection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});

function quit() {
  server.close();
  for (const s of sockets) s.destroy();
  process.exit(0);
}
process.on('SIGTERM', quit);
process.on('SIGINT', quit);
const parent = process.ppid;
setInterval(() => {
  // Reparented (our parent died): stop.
  if (process.ppid !== parent) quit();
  try { process.kill(parent, 0); } catch (e) { quit(); }
}, 1000).unref();
setTimeout(quit, maxLife * 1000).unref();

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening 127.0.0.1:${server.address().port}\n`);
});
