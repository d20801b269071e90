#!/usr/bin/env node
// gateway-client.js: the concurrent client of bench/gateway: N enrichments from C clients (keep-alive), against promptd or an OpenAI-compatible gateway; prints one JSON summary.
//
// usage: node gateway-client.js CONFIG.json
// CONFIG: {
//   kind: "promptd" | "openai",  promptd: POST {prompt, providers, async?} to
//                                /api/v1/enrich; openai: POST {model, messages}
//                                to /v1/chat/completions (Portkey)
//   base: "http://127.0.0.1:PORT", n, clients,
//   tokens: ["..."]              client c sends "Authorization: Bearer tokens[c % len]"
//   headers: {..}                extra headers (Portkey's x-portkey-*)
//   providers: [..]              promptd: the request's chain
//   model: "m"                   openai: the model asked for
//   async: false                 promptd: submit "async": true jobs, then poll them
//   poll_ms: 100, timeout_ms: 120000, tag: "run name" (keeps prompts distinct across runs)
// }
// Request i carries a distinct prompt with {{audience}} (promptd also sends
// Cache-Control: no-cache), so no cache answers.  An answer counts as
// "valid" when it is 200 and its text keeps the prompt verbatim, and as
// "from_model" when it is valid and came from the remote model (promptd:
// provider "openai", not "local").
// Output (stdout): {n, clients, wall_s, rps, valid, from_model, statuses,
//   providers, errors, p50_ms, p99_ms, max_ms, first_error,
//   async: {submitted, done, failed, lost, submit_s, last_submit_to_done_s}}
// Exit 0 when it ran (whatever the answers), 2 on a bad config.
'use strict';
const http = require('http');
const fs = require('fs');

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const N = cfg.n;
const C = Math.max(1, Math.min(cfg.clients, N));
if (!N || !cfg.base || !cfg.kind) {
  console.error('gateway-client: config needs kind, base, n, clients');
  process.exit(2);
}
const base = new URL(cfg.base);
const agent = new http.Agent({ keepAlive: true, maxSockets: C + 8, maxFreeSockets: C + 8 });
const timeoutMs = cfg.timeout_ms || 120000;
const tag = cfg.tag || 'bench';

function promptOf(i) {
  return `Summarise incident report ${tag}-${i} for {{audience}} in 5 bullet points, keeping every number.`;
}

// request(method, path, headers, body) -> {status, body, ms}; never rejects.
function request(method, path, headers, body) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const done = (status, text, err) =>
      resolve({ status, body: text, err, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    const req = http.request({
      host: base.hostname, port: base.port, method, path, agent,
      headers: { ...headers, ...(body ? { 'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body) } : {}) },
    }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => done(res.statusCode, Buffer.concat(parts).toString('utf8')));
      res.on('error', (e) => done(0, '', e.message));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('client timeout')));
    req.on('error', (e) => done(0, '', e.code || e.message));
    if (body) req.write(body);
    req.end();
  });
}

function headersFor(c) {
  const h = { ...(cfg.headers || {}) };
  if (cfg.tokens && cfg.tokens.length) h.Authorization = `Bearer ${cfg.tokens[c % cfg.tokens.length]}`;
  if (cfg.kind === 'promptd') h['Cache-Control'] = 'no-cache';
  return h;
}

function parse(text) {
  try { return JSON.parse(text); } catch (e) { return null; }
}

// The verdict on one answer: {valid, from_model, provider}.
function judge(i, r) {
  const p = promptOf(i);
  const j = r.status >= 200 && r.status < 300 ? parse(r.body) : null;
  if (cfg.kind === 'promptd') {
    const res = j && j.result && typeof j.result === 'object' ? j.result : j;
    const valid = !!(res && res.status === 'done' && typeof res.enriched === 'string'
      && res.enriched.includes('{{audience}}'));
    const provider = (res && res.provider) || (j ? 'none' : `http-${r.status}`);
    return { valid, provider, from_model: valid && provider !== 'local' };
  }
  const text = j && j.choices && j.choices[0] && j.choices[0].message && j.choices[0].message.content;
  const valid = typeof text === 'string' && text.includes(p);
  return { valid, provider: valid ? 'model' : `http-${r.status}`, from_model: valid };
}

function bodyFor(i) {
  if (cfg.kind === 'promptd') {
    const b = { prompt: promptOf(i) };
    if (cfg.providers) b.providers = cfg.providers;
    if (cfg.async) b.async = true;
    return JSON.stringify(b);
  }
  return JSON.stringify({ model: cfg.model || 'bench-model', max_tokens: 2048, messages: [
    { role: 'system', content: 'You are an expert prompt engineer. Rewrite the prompt the user sends.' },
    { role: 'user', content: promptOf(i) }] });
}

function pct(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))))];
}

const sum = { valid: 0, from_model: 0, statuses: {}, providers: {}, errors: {}, lat: [], first_error: null };
function record(i, r, v) {
  sum.statuses[r.status] = (sum.statuses[r.status] || 0) + 1;
  sum.providers[v.provider] = (sum.providers[v.provider] || 0) + 1;
  if (r.err) sum.errors[r.err] = (sum.errors[r.err] || 0) + 1;
  if (v.valid) sum.valid++;
  if (v.from_model) sum.from_model++;
  if (!v.valid && !sum.first_error) sum.first_error = `${r.status} ${r.err || ''} ${String(r.body).slice(0, 300)}`;
}

async function syncRun() {
  let next = 0;
  const client = async (c) => {
    for (let i = next++; i < N; i = next++) {
      const r = await request('POST', cfg.kind === 'promptd' ? '/api/v1/enrich' : '/v1/chat/completions',
        headersFor(c), bodyFor(i));
      sum.lat.push(r.ms);
      record(i, r, judge(i, r));
    }
  };
  await Promise.all(Array.from({ length: C }, (_, c) => client(c)));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Async jobs: C clients submit N jobs, then C pollers walk the pending ones.
async function asyncRun(t0) {
  const jobs = [];
  let next = 0;
  let lastSubmit = t0;
  await Promise.all(Array.from({ length: C }, (_, c) => (async () => {
    for (let i = next++; i < N; i = next++) {
      const r = await request('POST', '/api/v1/enrich', headersFor(c), bodyFor(i));
      lastSubmit = Date.now();
      const j = r.status === 202 ? parse(r.body) : null;
      if (j && j.status_url) jobs.push({ i, c, url: j.status_url, t: Date.now() });
      else record(i, r, { valid: false, provider: `submit-http-${r.status}` });
    }
  })()));
  const a = { submitted: jobs.length, done: 0, failed: 0, lost: 0, submit_s: (lastSubmit - t0) / 1000 };
  const pending = jobs.slice();
  let lastDone = lastSubmit;
  const deadline = Date.now() + timeoutMs;
  await Promise.all(Array.from({ length: Math.min(C, 64) }, () => (async () => {
    while (pending.length && Date.now() < deadline) {
      const job = pending.shift();
      const r = await request('GET', new URL(job.url, base).pathname, headersFor(job.c));
      const j = r.status === 200 ? parse(r.body) : null;
      if (j && (j.status === 'done' || j.status === 'failed')) {
        lastDone = Date.now();
        sum.lat.push(lastDone - job.t);
        if (j.status === 'done') a.done++; else a.failed++;
        record(job.i, { ...r, body: JSON.stringify(j) }, judge(job.i, { status: 200, body: JSON.stringify(j) }));
      } else {
        pending.push(job);
        await sleep(cfg.poll_ms || 100);
      }
    }
  })()));
  a.lost = pending.length;
  a.last_submit_to_done_s = a.lost ? null : (lastDone - lastSubmit) / 1000;
  return a;
}

(async () => {
  const t0 = Date.now();
  const a = cfg.async ? await asyncRun(t0) : (await syncRun(), undefined);
  const wall = (Date.now() - t0) / 1000;
  const s = sum.lat.sort((x, y) => x - y);
  const out = {
    n: N, clients: C, wall_s: wall, rps: N / wall, valid: sum.valid, from_model: sum.from_model,
    statuses: sum.statuses, providers: sum.providers, errors: sum.errors,
    p50_ms: pct(s, 50), p99_ms: pct(s, 99), max_ms: pct(s, 100), first_error: sum.first_error,
  };
  if (a) out.async = a;
  process.stdout.write(JSON.stringify(out) + '\n');
  agent.destroy();
})();
