// admin.js: the admin dashboard: sign-in through /auth/v1, the pages drawn from the admin APIs, charts when Chart.js loaded.
'use strict';

(function () {
    const TOKEN_KEY = 'promptd.admin.access_token';
    const PAGES = ['overview', 'users', 'enrichment', 'sharing', 'jobs', 'system'];
    // The tiers migration 0008 creates; the users page offers these and any
    // other tier a user is on (/api/v1/billing/plans lists plans only when
    // Stripe is configured, 503 otherwise).
    const TIERS = ['free', 'pro', 'team', 'enterprise'];
    const charts = [];
    let generation = 0;   // route() calls; an older, slower one draws into a pane no longer shown
    let config = { anon_key: null, prometheus: null };

    // Errors the page met, for tests and the curious (the console has them too).
    window.__adminErrors = window.__adminErrors || [];
    window.addEventListener('error', (e) => window.__adminErrors.push(String(e.message)));
    window.addEventListener('unhandledrejection', (e) => window.__adminErrors.push(String(e.reason)));

    const $ = (id) => document.getElementById(id);

    // el(tag, attrs, ...children): an element; children are nodes or text
    // (never parsed as HTML).
    function el(tag, attrs, ...children) {
        const e = document.createElement(tag);
        for (const [k, v] of Object.entries(attrs || {})) {
            if (k === 'class') e.className = v;
            else if (k.startsWith('data-') || k.startsWith('aria-')) e.setAttribute(k, v);
            else e[k] = v;
        }
        for (const c of children) {
            if (c === null || c === undefined) continue;
            e.append(c instanceof Node ? c : String(c));
        }
        return e;
    }

    function fmt(v) {
        if (v === null || v === undefined) return '–';
        if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Math.round(v * 10000) / 10000);
        return String(v);
    }

    // ------------------------------------------------------------ API
    class ApiError extends Error {
        constructor(status, body) {
            super((body && (body.detail || body.msg || body.message || body.title)) || ('HTTP ' + status));
            this.status = status;
        }
    }

    async function api(method, path, body) {
        const headers = { Accept: 'application/json' };
        const token = sessionStorage.getItem(TOKEN_KEY);
        if (token) headers.Authorization = 'Bearer ' + token;
        if (body !== undefined) headers['Content-Type'] = 'application/json';
        const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
                                        credentials: 'omit', cache: 'no-store' });
        const json = await res.json().catch(() => null);
        if (!res.ok) throw new ApiError(res.status, json);
        return json;
    }
    const get = (path) => api('GET', path);
    const stats = (name, query) => get('/api/v1/admin/analytics/' + name + (query ? '?' + query : ''));

    // ------------------------------------------------------------ sign-in
    async function signIn(ev) {
        ev.preventDefault();
        const err = $('signin-error');
        err.hidden = true;
        const headers = { 'Content-Type': 'application/json' };
        if (config.anon_key) headers.apikey = config.anon_key;
        try {
            const res = await fetch('/auth/v1/token?grant_type=password', {
                method: 'POST', headers, credentials: 'omit',
                body: JSON.stringify({ email: $('email').value, password: $('password').value }) });
            const json = await res.json().catch(() => null);
            if (!res.ok || !json || !json.access_token) {
                err.textContent = 'Sign-in failed: ' + ((json && (json.msg || json.error_description || json.message)) || res.status);
                err.hidden = false;
                return;
            }
            sessionStorage.setItem(TOKEN_KEY, json.access_token);
            $('password').value = '';
            if (!location.hash) location.hash = '#/overview';   // hashchange: route()
            else route();
        } catch (e) {
            err.textContent = 'Sign-in failed: ' + e.message;
            err.hidden = false;
        }
    }

    function signOut() {
        sessionStorage.removeItem(TOKEN_KEY);
        generation++;   // a page still loading draws nothing
        $('signin-error').hidden = true;
        show('signin');
    }

    // show(which): the sign-in form, the "admins only" notice or the pages.
    function show(which) {
        $('signin').hidden = which !== 'signin';
        $('denied').hidden = which !== 'denied';
        $('view').hidden = which !== 'view';
        $('nav').hidden = which !== 'view';
        $('signout').hidden = which === 'signin';
        $('status').textContent = '';
    }

    // ------------------------------------------------------------ drawing
    function cards(items) {
        return el('dl', { class: 'cards' }, ...items.map(([label, key, value]) =>
            el('div', {}, el('dt', {}, label), el('dd', { 'data-stat': key }, fmt(value)))));
    }

    // table(caption, columns [[label, key, numeric?, cell?]], rows, id, empty):
    // cell(row) draws a cell instead of the key's value; empty is the one
    // row's text when there are none.
    function table(caption, columns, rows, id, empty) {
        const t = el('table', id ? { id } : {}, el('caption', {}, caption));
        t.append(el('thead', {}, el('tr', {}, ...columns.map((c) => el('th', c[2] ? { class: 'num' } : {}, c[0])))));
        const tb = el('tbody');
        for (const r of rows) {
            tb.append(el('tr', {}, ...columns.map((c) =>
                el('td', Object.assign({ 'data-col': c[1] }, c[2] ? { class: 'num' } : {}),
                   typeof c[3] === 'function' ? c[3](r) : fmt(r[c[1]])))));
        }
        if (!rows.length) tb.append(el('tr', {}, el('td', { colSpan: columns.length }, empty || 'none in this range')));
        t.append(tb);
        return t;
    }

    // chart(title, labels, datasets [{label, data}], kind): a Chart.js chart, or
    // nothing when the library did not load (the note says so).
    function chart(title, labels, datasets, kind) {
        if (typeof window.Chart !== 'function') return null;
        const canvas = el('canvas', { 'data-chart': title });
        const box = el('div', { class: 'chart' }, canvas);
        charts.push(new window.Chart(canvas, {
            type: kind || 'line',
            data: { labels, datasets: datasets.map((d, i) => ({ label: d.label, data: d.data, borderWidth: 1.5, pointRadius: 0, tension: 0.2,
                                                                 borderColor: COLORS[i % COLORS.length], backgroundColor: COLORS[i % COLORS.length] })) },
            options: { responsive: true, maintainAspectRatio: false, animation: false,
                       plugins: { title: { display: true, text: title }, legend: { display: datasets.length > 1 } },
                       scales: { y: { beginAtZero: true } } } }));
        return box;
    }

    const COLORS = ['#2563eb', '#b42318', '#16a34a'];
    const day = (b) => String(b).slice(0, 10);

    // ------------------------------------------------------------ pages
    async function overview(view) {
        const [o, au, su] = await Promise.all([stats('overview'), stats('active-users', 'granularity=day'), stats('signups', 'granularity=day')]);
        view.append(el('h2', {}, 'Overview'), el('p', { class: 'note' }, 'From ' + o.from + ' to ' + o.to + ' (UTC).'),
            cards([['Sign-ups', 'signups', o.signups], ['Paid users', 'paid_users', o.paid_users], ['DAU', 'dau', o.dau],
                   ['WAU', 'wau', o.wau], ['MAU', 'mau', o.mau], ['Enrichments', 'enrichments', o.enrichments],
                   ['Failed enrichments', 'enrichments_failed', o.enrichments_failed], ['Success rate', 'success_rate', o.success_rate],
                   ['Tokens in', 'tokens_in', o.tokens_in], ['Tokens out', 'tokens_out', o.tokens_out], ['Cost (USD)', 'cost_usd', o.cost_usd],
                   ['Share views', 'share_views', o.share_views], ['Share forks', 'share_forks', o.share_forks]]));
        const spark = el('div', { class: 'spark' });
        const a = chart('Active users per day', au.items.map((i) => day(i.bucket)), [{ label: 'active', data: au.items.map((i) => i.active) }]);
        const s = chart('Sign-ups per day', su.items.map((i) => day(i.bucket)), [{ label: 'sign-ups', data: su.items.map((i) => i.signups) }]);
        if (a) spark.append(a);
        if (s) spark.append(s);
        view.append(spark);
    }

    async function users(view) {
        const list = await allUsers();
        const tiers = [...new Set(TIERS.concat(list.map((u) => u.subscription_tier)))];
        const search = el('input', { type: 'search', id: 'user-search', placeholder: 'Search by email or name' });
        const t = table('Users (' + list.length + ')', [['Email', 'email'], ['Name', 'display_name'],
            ['Tier', 'subscription_tier', false, (u) => tierSelect(u, tiers)], ['Admin', 'is_admin', false, (u) => (u.is_admin ? 'yes' : 'no')],
            ['Created', 'created_at', false, (u) => day(u.created_at)]], list, 'users', 'no users');
        t.querySelectorAll('tbody tr').forEach((tr, i) => { if (list[i]) tr.setAttribute('data-user-id', list[i].id); });
        search.addEventListener('input', () => {
            const q = search.value.trim().toLowerCase();
            t.querySelectorAll('tbody tr').forEach((tr, i) => {
                const u = list[i];
                tr.hidden = !!u && q !== '' && !((u.email || '') + ' ' + (u.display_name || '')).toLowerCase().includes(q);
            });
        });
        view.append(el('h2', {}, 'Users'), search, t);
    }

    // Every user, page by page (at most 20 pages of 100).
    async function allUsers() {
        let out = [], cursor = null;
        for (let i = 0; i < 20; i++) {
            const page = await get('/api/v1/admin/users?limit=100' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
            out = out.concat(page.items);
            cursor = page.next_cursor;
            if (!cursor) break;
        }
        return out;
    }

    function tierSelect(u, tiers) {
        const sel = el('select', { 'data-user-tier': u.id, 'aria-label': 'tier of ' + u.email },
                       ...tiers.map((t) => el('option', { value: t, selected: t === u.subscription_tier }, t)));
        sel.addEventListener('change', async () => {
            try {
                const out = await api('PATCH', '/api/v1/admin/users/' + encodeURIComponent(u.id), { subscription_tier: sel.value });
                u.subscription_tier = out.subscription_tier;
                $('status').textContent = 'Tier of ' + u.email + ' is now ' + out.subscription_tier + '.';
            } catch (e) {
                sel.value = u.subscription_tier;
                $('status').textContent = 'Tier not changed: ' + e.message;
            }
        });
        return sel;
    }

    async function enrichment(view) {
        const [en, co] = await Promise.all([stats('enrichments', 'granularity=day'), stats('costs')]);
        const sum = (k) => en.items.reduce((n, i) => n + (i[k] || 0), 0);
        view.append(el('h2', {}, 'Enrichment'),
            cards([['Completed', 'completed', sum('completed')], ['Failed', 'failed', sum('failed')],
                   ['Cost (USD)', 'cost_usd', co.by_provider.reduce((n, p) => n + Number(p.cost_usd || 0), 0)]]));
        const days = [...new Set(en.items.map((i) => day(i.bucket)))];
        const per = (k) => days.map((d) => en.items.filter((i) => day(i.bucket) === d).reduce((n, i) => n + (i[k] || 0), 0));
        const c = chart('Enrichments per day', days, [{ label: 'completed', data: per('completed') }, { label: 'failed', data: per('failed') }], 'bar');
        if (c) view.append(el('div', { class: 'spark' }, c));
        view.append(table('Per day and provider', [['Day', 'bucket', false, (i) => day(i.bucket)], ['Provider', 'provider'],
            ['Completed', 'completed', true], ['Failed', 'failed', true], ['Success rate', 'success_rate', true],
            ['Mean latency (ms)', 'latency_ms_mean', true]], en.items, 'enrichments'));
        const money = [['Enrichments', 'enrichments', true], ['Tokens in', 'tokens_in', true], ['Tokens out', 'tokens_out', true], ['Cost (USD)', 'cost_usd', true]];
        view.append(table('Costs by provider', [['Provider', 'provider']].concat(money), co.by_provider, 'costs-provider'),
                    table('Costs by model', [['Model', 'model']].concat(money), co.by_model, 'costs-model'));
    }

    async function sharing(view) {
        const sh = await stats('sharing', 'granularity=day');
        const sum = (k) => sh.items.reduce((n, i) => n + (i[k] || 0), 0);
        view.append(el('h2', {}, 'Sharing'), cards([['Views', 'views', sum('views')], ['Forks', 'forks', sum('forks')]]));
        const c = chart('Share views and forks per day', sh.items.map((i) => day(i.bucket)),
                        [{ label: 'views', data: sh.items.map((i) => i.views) }, { label: 'forks', data: sh.items.map((i) => i.forks) }]);
        if (c) view.append(el('div', { class: 'spark' }, c));
        view.append(table('Most viewed shares', [['Share', 'share_id'], ['Prompt', 'prompt_id'], ['Views', 'views', true]], sh.top_shares, 'top-shares'),
                    table('Per day', [['Day', 'bucket', false, (i) => day(i.bucket)], ['Views', 'views', true], ['Forks', 'forks', true]],
                          sh.items, 'sharing-days'));
    }

    async function jobs(view) {
        const [st, dead] = await Promise.all([get('/api/v1/admin/jobs/stats'), get('/api/v1/admin/jobs?state=dead&limit=100')]);
        const s = st.states;
        view.append(el('h2', {}, 'Jobs'),
            cards([['Pending', 'pending', s.pending], ['Running', 'running', s.running], ['Succeeded', 'succeeded', s.succeeded],
                   ['Dead', 'dead', s.dead], ['Cancelled', 'cancelled', s.cancelled], ['Total', 'total', st.total]]),
            table('Per queue', [['Queue', 'queue'], ['Pending', 'pending', true], ['Due', 'due', true], ['Running', 'running', true],
                ['Succeeded', 'succeeded', true], ['Dead', 'dead', true], ['Cancelled', 'cancelled', true],
                ['Oldest due (s)', 'oldest_pending_age_s', true]], st.queues, 'queues', 'no jobs'),
            table('Dead jobs', [['Id', 'id', true], ['Queue', 'queue'], ['Type', 'job_type'], ['Attempts', 'attempt', true],
                ['Last error', 'last_error'], ['', 'retry', false, retryButton]], dead.items, 'dead-jobs', 'no dead jobs'));
    }

    function retryButton(job) {
        const b = el('button', { type: 'button', 'data-retry': String(job.id) }, 'Retry');
        b.addEventListener('click', async () => {
            b.disabled = true;
            try {
                await api('POST', '/api/v1/admin/jobs/' + encodeURIComponent(job.id) + '/retry');
                await route();   // redrawn with the new counts (route clears the status line)
                $('status').textContent = 'Job ' + job.id + ' is pending again.';
            } catch (e) {
                b.disabled = false;
                $('status').textContent = 'Job ' + job.id + ' not retried: ' + e.message;
            }
        });
        return b;
    }

    async function system(view) {
        const [o, cv, st] = await Promise.all([stats('overview'), stats('conversion'), get('/api/v1/admin/jobs/stats')]);
        const due = st.queues.reduce((n, q) => n + (q.due || 0), 0);
        const oldest = st.queues.reduce((m, q) => Math.max(m, q.oldest_pending_age_s || 0), 0);
        view.append(el('h2', {}, 'System'),
            cards([['Paid users now', 'paid_users_now', cv.paid_users_now], ['Live subscriptions', 'live_subscriptions', cv.live_subscriptions],
                   ['Plan changes (30 days)', 'plan_changes', cv.plan_changes], ['MAU', 'mau', o.mau],
                   ['Jobs due', 'jobs_due', due], ['Oldest due job (s)', 'oldest_due_s', oldest], ['Dead jobs', 'dead', st.states.dead]]));
        const p = el('p', { id: 'prometheus' });
        if (config.prometheus) {
            p.append('Request rates, latencies and worker metrics: ',
                     el('a', { href: config.prometheus, rel: 'noopener noreferrer', target: '_blank' }, "Prometheus's UI"),
                     ' (on the server\'s loopback address).');
        } else {
            p.append('Request rates and latencies are in /metrics, which this page does not read (loopback or its token only); ' +
                     'start the stack with PROMPTD_PROMETHEUS=1 for a Prometheus UI linked here.');
        }
        view.append(p);
    }

    const HANDLERS = { overview, users, enrichment, sharing, jobs, system };

    // ------------------------------------------------------------ routing
    async function route() {
        if (!sessionStorage.getItem(TOKEN_KEY)) return show('signin');
        const page = PAGES.find((p) => location.hash === '#/' + p) || 'overview';
        const gen = ++generation;
        while (charts.length) charts.pop().destroy();
        const view = $('view');
        const pane = el('section', { 'data-page': page });
        view.replaceChildren(pane);
        view.setAttribute('data-page', page);
        view.removeAttribute('data-ready');
        document.querySelectorAll('#nav a').forEach((a) => a.classList.toggle('current', a.dataset.page === page));
        show('view');
        try {
            await HANDLERS[page](pane);
        } catch (e) {
            if (gen !== generation) return;
            if (e.status === 401) {
                sessionStorage.removeItem(TOKEN_KEY);
                show('signin');
                $('signin-error').textContent = 'Your session ended; sign in again.';
                $('signin-error').hidden = false;
                return;
            }
            if (e.status === 403) return show('denied');
            pane.append(el('p', { class: 'error' }, 'Could not load this page: ' + e.message));
        }
        if (gen === generation) view.setAttribute('data-ready', page);
    }

    async function start() {
        $('charts-note').hidden = typeof window.Chart === 'function';
        if (typeof window.Chart === 'function') window.Chart.defaults.animation = false;
        try {
            const res = await fetch('config.json', { cache: 'no-store', credentials: 'omit' });
            if (res.ok) config = Object.assign(config, await res.json());
        } catch (e) { /* defaults: no anon key, no Prometheus link */ }
        $('signin-form').addEventListener('submit', signIn);
        $('signout').addEventListener('click', signOut);
        window.addEventListener('hashchange', route);
        route();
    }

    start();
})();
