// admin.js: the admin dashboard: sign-in through /auth/v1, the pages drawn from the admin APIs over the range the URL hash names, charts when Chart.js loaded.
'use strict';

(function () {
    const TOKEN_KEY = 'promptd.admin.access_token';
    const PAGES = ['overview', 'users', 'enrichment', 'sharing', 'jobs', 'system'];
    // The tiers migration 0008 creates; the users page offers these and any
    // other tier a user is on (/api/v1/billing/plans lists plans only when
    // Stripe is configured, 503 otherwise).
    const TIERS = ['free', 'pro', 'team', 'enterprise'];
    // The granularities a statistic takes (the statistics API's rules).
    const ALL = ['hour', 'day', 'week', 'month'];
    const NO_HOUR = ['day', 'week', 'month'];
    const USERS_PAGE = 50;
    const AUDIT_PAGE = 20;
    const charts = [];
    let generation = 0;   // route() calls; an older, slower one draws into a pane no longer shown
    let searches = 0;     // user searches; only the newest draws its list
    let details = 0;      // user selections; only the newest draws its detail
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
    // stats(name, grans): a statistic over the hash's range; grans: the
    // granularities it takes (none: it takes no granularity).
    const stats = (name, grans) => get('/api/v1/admin/analytics/' + name + '?' + statsQuery(grans));

    // ------------------------------------------------------------ the range
    // #/PAGE?from=YYYY-MM-DD&to=YYYY-MM-DD&granularity=G: every page's
    // statistics over that range (to: through the end of that day, as the API
    // reads a date) and granularity; absent: the API's defaults (the last 30
    // days, per day).  In the hash, so a reload or a link keeps it.
    function hashParts() {
        const h = location.hash.replace(/^#\/?/, '');
        const i = h.indexOf('?');
        const q = new URLSearchParams(i < 0 ? '' : h.slice(i + 1));
        const range = new URLSearchParams();
        for (const k of ['from', 'to', 'granularity']) if (q.get(k)) range.set(k, q.get(k));
        return { page: i < 0 ? h : h.slice(0, i), range };
    }

    function statsQuery(grans) {
        const r = hashParts().range;
        const p = new URLSearchParams();
        if (r.get('from')) p.set('from', r.get('from'));
        if (r.get('to')) p.set('to', r.get('to'));
        if (grans) {
            const g = r.get('granularity') || 'day';
            p.set('granularity', grans.includes(g) ? g : 'day');
        }
        return p.toString();
    }

    function setHash(page, range) {
        const q = range.toString();
        location.hash = '#/' + page + (q ? '?' + q : '');   // hashchange: route()
    }

    function rangeApply(ev) {
        ev.preventDefault();
        const p = new URLSearchParams();
        const from = $('range-from').value, to = $('range-to').value, g = $('range-granularity').value;
        if (from && to && from > to) {
            $('status').textContent = 'The range must start before it ends.';
            return;
        }
        if (from) p.set('from', from);
        if (to) p.set('to', to);
        if (g && g !== 'day') p.set('granularity', g);
        setHash(hashParts().page || 'overview', p);
    }

    // The form shows the hash's range; the nav links carry it to each page.
    function rangeShow(range) {
        $('range-from').value = range.get('from') || '';
        $('range-to').value = range.get('to') || '';
        $('range-granularity').value = ALL.includes(range.get('granularity')) ? range.get('granularity') : 'day';
        const q = range.toString();
        document.querySelectorAll('#nav a').forEach((a) => { a.href = '#/' + a.dataset.page + (q ? '?' + q : ''); });
    }

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
        $('range').hidden = which !== 'view';
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
    // A bucket's label at granularity g: the day, or the day and hour.
    const bucket = (b, g) => (g === 'hour' ? String(b).slice(0, 13).replace('T', ' ') + 'h' : day(b));
    const pct = (share) => (share === null || share === undefined ? '–' : Math.round(share * 100) + '%');
    const when = (t) => (t ? String(t).replace('T', ' ').replace(/\.\d+/, '').replace(/\+00:00$|Z$/, ' UTC') : '–');

    // ------------------------------------------------------------ pages
    async function overview(view) {
        const [o, au, su, rt, tp] = await Promise.all([stats('overview'), stats('active-users', NO_HOUR), stats('signups', ALL),
                                                       stats('retention'), stats('top-prompts')]);
        view.append(el('h2', {}, 'Overview'), el('p', { class: 'note' }, 'From ' + o.from + ' to ' + o.to + ' (UTC).'),
            cards([['Sign-ups', 'signups', o.signups], ['Paid users', 'paid_users', o.paid_users], ['DAU', 'dau', o.dau],
                   ['WAU', 'wau', o.wau], ['MAU', 'mau', o.mau], ['Enrichments', 'enrichments', o.enrichments],
                   ['Failed enrichments', 'enrichments_failed', o.enrichments_failed], ['Success rate', 'success_rate', o.success_rate],
                   ['Tokens in', 'tokens_in', o.tokens_in], ['Tokens out', 'tokens_out', o.tokens_out], ['Cost (USD)', 'cost_usd', o.cost_usd],
                   ['Share views', 'share_views', o.share_views], ['Share forks', 'share_forks', o.share_forks]]));
        const spark = el('div', { class: 'spark' });
        const a = chart('Active users per ' + au.granularity, au.items.map((i) => bucket(i.bucket, au.granularity)),
                        [{ label: 'active', data: au.items.map((i) => i.active) }]);
        const s = chart('Sign-ups per ' + su.granularity, su.items.map((i) => bucket(i.bucket, su.granularity)),
                        [{ label: 'sign-ups', data: su.items.map((i) => i.signups) }]);
        if (a) spark.append(a);
        if (s) spark.append(s);
        view.append(spark, retentionTable(rt), el('div', { class: 'tops' },
            table('Most viewed prompts (shares)', [['Prompt', 'prompt_id'], ['Views', 'views', true]], tp.by_share_views, 'top-shared'),
            table('Most enriched prompts', [['Prompt', 'prompt_id'], ['Enrichments', 'enrichments', true]], tp.by_enrichments, 'top-enriched'),
            table('Top tags (prompts created)', [['Tag', 'tag'], ['Prompts', 'prompts', true]], tp.tags, 'top-tags')));
    }

    // The cohorts by sign-up week: size, then per week since sign-up the
    // share of the cohort active (and how many).
    function retentionTable(rt) {
        const n = rt.cohorts.reduce((m, c) => Math.max(m, c.weeks.length), 0);
        const cols = [['Signed up (week of)', 'week', false, (c) => day(c.week)], ['Size', 'size', true]];
        for (let k = 0; k < n; k++) {
            cols.push(['Week ' + k, 'w' + k, true, (c) => (!c.weeks[k] ? '' : c.weeks[k].share === null ? '–' : pct(c.weeks[k].share) + ' (' + c.weeks[k].active + ')')]);
        }
        return table('Retention by sign-up week: share of the cohort active in each week since', cols, rt.cohorts,
                     'retention', 'no sign-up weeks in this range');
    }

    // Users: a server-side search (GET /api/v1/admin/users?q, pages of
    // USERS_PAGE), a tier menu per user, and the selected user's plan, usage
    // against limits and audit trail.
    async function users(view) {
        const search = el('input', { type: 'search', id: 'user-search', placeholder: 'Search: email or id prefix',
                                     'aria-label': 'search users by email or id prefix' });
        const box = el('div', { id: 'users-box' });
        const detail = el('section', { id: 'user-detail', class: 'detail' },
                          el('p', { class: 'note' }, 'Select a user to see their plan, usage and audit trail.'));
        let timer = null;
        search.addEventListener('input', () => {
            clearTimeout(timer);
            timer = setTimeout(() => userList(box, detail, search.value.trim()).catch((e) => paneError(box, e)), 250);
        });
        view.append(el('h2', {}, 'Users'), search, box, detail);
        await userList(box, detail, '');
    }

    // userList(box, detail, q): the first page of users matching q (all when
    // empty) in box, a More button for the next pages; box's data-ready-q is
    // the search drawn.
    async function userList(box, detail, q) {
        const gen = ++searches;
        let list = [], cursor = null;
        const more = el('button', { type: 'button', id: 'users-more' }, 'More');
        const draw = () => {
            const tiers = [...new Set(TIERS.concat(list.map((u) => u.subscription_tier)))];
            const t = table((q ? 'Users matching "' + q + '"' : 'Users') + ' (' + list.length + (cursor ? '+' : '') + ')',
                [['Email', 'email'], ['Name', 'display_name'], ['Tier', 'subscription_tier', false, (u) => tierSelect(u, tiers)],
                 ['Admin', 'is_admin', false, (u) => (u.is_admin ? 'yes' : 'no')], ['Created', 'created_at', false, (u) => day(u.created_at)],
                 ['', 'detail', false, (u) => detailButton(u, detail)]], list, 'users', q ? 'no user matches' : 'no users');
            t.querySelectorAll('tbody tr').forEach((tr, i) => { if (list[i]) tr.setAttribute('data-user-id', list[i].id); });
            more.hidden = !cursor;
            box.replaceChildren(t, more);
            box.setAttribute('data-ready-q', q);
        };
        const page = async () => {
            const res = await get('/api/v1/admin/users?limit=' + USERS_PAGE + (q ? '&q=' + encodeURIComponent(q) : '') +
                                  (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
            if (gen !== searches) return;
            list = list.concat(res.items);
            cursor = res.next_cursor;
            draw();
        };
        more.addEventListener('click', () => { more.disabled = true; page().catch((e) => paneError(box, e)).finally(() => { more.disabled = false; }); });
        box.removeAttribute('data-ready-q');
        await page();
    }

    function detailButton(u, detail) {
        const b = el('button', { type: 'button', 'data-user-detail': u.id }, 'Details');
        b.addEventListener('click', () => userDetail(detail, u).catch((e) => paneError(detail, e)));
        return b;
    }

    // userDetail(pane, u): u's plan and usage against its limits (GET
    // .../usage) and audit trail, newest first, with an Older button
    // (GET .../audit?before).  pane's data-ready is u's id once drawn.
    async function userDetail(pane, u) {
        const gen = ++details;
        const base = '/api/v1/admin/users/' + encodeURIComponent(u.id);
        pane.removeAttribute('data-ready');
        pane.setAttribute('data-user-id', u.id);
        const [usage, audit] = await Promise.all([get(base + '/usage'), get(base + '/audit?limit=' + AUDIT_PAGE)]);
        if (gen !== details) return;
        let rows = audit.items, cursor = audit.next_cursor;
        const older = el('button', { type: 'button', id: 'audit-older' }, 'Older');
        const trail = el('div', { id: 'audit-box' });
        const drawTrail = () => {
            trail.replaceChildren(table('Audit trail (' + rows.length + (cursor ? '+' : '') + ', newest first)',
                [['Id', 'id', true], ['At', 'at', false, (a) => when(a.at)], ['Action', 'action'], ['Target', 'target'],
                 ['Outcome', 'outcome'], ['Address', 'address'], ['Request', 'request_id']], rows, 'user-audit', 'no audit rows'));
            older.hidden = !cursor;
        };
        older.addEventListener('click', async () => {
            older.disabled = true;
            try {
                const next = await get(base + '/audit?limit=' + AUDIT_PAGE + '&before=' + encodeURIComponent(cursor));
                rows = rows.concat(next.items);
                cursor = next.next_cursor;
                drawTrail();
            } catch (e) {
                $('status').textContent = 'Older audit rows not loaded: ' + e.message;
            }
            older.disabled = false;
        });
        drawTrail();
        const plan = usage.plan ? usage.plan.name + ' (' + usage.tier + ')' : usage.tier;
        pane.replaceChildren(el('h3', {}, u.email || u.id),
            cards([['Plan', 'user_plan', plan], ['Quotas enforced', 'user_enforced', usage.enforced ? 'yes' : 'no']]),
            table('Usage against limits', [['Resource', 'resource'], ['Window', 'window'], ['Used', 'used', true],
                ['Reserved', 'reserved', true], ['Limit', 'limit', true, (x) => (x.limit === null ? 'unlimited' : fmt(x.limit))],
                ['Remaining', 'remaining', true], ['Resets', 'resets_at', false, (x) => when(x.resets_at)]],
                usage.resources || [], 'user-usage', 'no metered resources'),
            trail, older);
        pane.setAttribute('data-ready', u.id);
    }

    // A part of a page that could not load says so in place (a 401 signs out).
    function paneError(pane, e) {
        if (e.status === 401) return route();
        pane.replaceChildren(el('p', { class: 'error' }, 'Could not load: ' + e.message));
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
        const [en, co, br] = await Promise.all([stats('enrichments', ALL), stats('costs'), get('/api/v1/admin/enrich/breakers')]);
        const sum = (k) => en.items.reduce((n, i) => n + (i[k] || 0), 0);
        const g = en.granularity;
        view.append(el('h2', {}, 'Enrichment'),
            cards([['Completed', 'completed', sum('completed')], ['Failed', 'failed', sum('failed')],
                   ['Cost (USD)', 'cost_usd', co.by_provider.reduce((n, p) => n + Number(p.cost_usd || 0), 0)],
                   ['Breakers open', 'breakers_open', br.providers.filter((p) => p.state !== 'closed').length]]));
        view.append(table('Circuit breakers (cool-down ' + br.cooldown_s + ' s)', [['Provider', 'provider'],
            ['State', 'state', false, (p) => el('span', { class: 'state-' + p.state }, p.state.replace('_', '-'))],
            ['Failures', 'failures', true], ['Opened', 'opened_at', false, (p) => when(p.opened_at)],
            ['Retry after', 'retry_at', false, (p) => when(p.retry_at)], ['Probe started', 'probe_started', false, (p) => when(p.probe_started)],
            ['In the chain', 'configured', false, (p) => (p.configured ? 'yes' : 'no')]], br.providers, 'breakers', 'no remote provider'));
        const days = [...new Set(en.items.map((i) => bucket(i.bucket, g)))];
        const per = (k) => days.map((d) => en.items.filter((i) => bucket(i.bucket, g) === d).reduce((n, i) => n + (i[k] || 0), 0));
        const c = chart('Enrichments per ' + g, days, [{ label: 'completed', data: per('completed') }, { label: 'failed', data: per('failed') }], 'bar');
        if (c) view.append(el('div', { class: 'spark' }, c));
        view.append(table('Per ' + g + ' and provider', [['Bucket', 'bucket', false, (i) => bucket(i.bucket, g)], ['Provider', 'provider'],
            ['Completed', 'completed', true], ['Failed', 'failed', true], ['Success rate', 'success_rate', true],
            ['Mean latency (ms)', 'latency_ms_mean', true]], en.items, 'enrichments'));
        const money = [['Enrichments', 'enrichments', true], ['Tokens in', 'tokens_in', true], ['Tokens out', 'tokens_out', true], ['Cost (USD)', 'cost_usd', true]];
        view.append(table('Costs by provider', [['Provider', 'provider']].concat(money), co.by_provider, 'costs-provider'),
                    table('Costs by model', [['Model', 'model']].concat(money), co.by_model, 'costs-model'));
    }

    async function sharing(view) {
        const sh = await stats('sharing', ALL);
        const g = sh.granularity;
        const sum = (k) => sh.items.reduce((n, i) => n + (i[k] || 0), 0);
        view.append(el('h2', {}, 'Sharing'), cards([['Views', 'views', sum('views')], ['Forks', 'forks', sum('forks')]]));
        const c = chart('Share views and forks per ' + g, sh.items.map((i) => bucket(i.bucket, g)),
                        [{ label: 'views', data: sh.items.map((i) => i.views) }, { label: 'forks', data: sh.items.map((i) => i.forks) }]);
        if (c) view.append(el('div', { class: 'spark' }, c));
        view.append(table('Most viewed shares', [['Share', 'share_id'], ['Prompt', 'prompt_id'], ['Views', 'views', true]], sh.top_shares, 'top-shares'),
                    table('Per ' + g, [['Bucket', 'bucket', false, (i) => bucket(i.bucket, g)], ['Views', 'views', true], ['Forks', 'forks', true]],
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
        const [o, cv, st, ep] = await Promise.all([stats('overview'), stats('conversion', ALL), get('/api/v1/admin/jobs/stats'), endpoints()]);
        const due = st.queues.reduce((n, q) => n + (q.due || 0), 0);
        const oldest = st.queues.reduce((m, q) => Math.max(m, q.oldest_pending_age_s || 0), 0);
        view.append(el('h2', {}, 'System'),
            cards([['Paid users now', 'paid_users_now', cv.paid_users_now], ['Live subscriptions', 'live_subscriptions', cv.live_subscriptions],
                   ['Plan changes (in the range)', 'plan_changes', cv.plan_changes], ['MAU', 'mau', o.mau],
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
        view.append(endpointsTables(ep), p);
    }

    // GET /api/v1/admin/analytics/endpoints over the range, or null where
    // the server has no such statistic (404).
    async function endpoints() {
        try {
            return await stats('endpoints', ALL);
        } catch (e) {
            if (e.status === 404) return null;
            throw e;
        }
    }

    function endpointsTables(ep) {
        if (!ep) {
            return el('p', { id: 'endpoints-na', class: 'note' }, 'Per-endpoint requests and latency are not available on this server.');
        }
        const g = ep.granularity;
        const q = [['p50 (ms)', 'p50_ms', true], ['p95 (ms)', 'p95_ms', true], ['p99 (ms)', 'p99_ms', true]];
        const counts = [['Requests', 'requests', true], ['4xx', 'status_4xx', true], ['5xx', 'status_5xx', true]];
        const box = el('div', { id: 'endpoints-box' },
            table('Requests and latency per endpoint', [['Family', 'family'], ['Route', 'route']].concat(counts, q),
                  ep.endpoints || [], 'endpoints', 'no requests in this range'));
        const c = chart('Requests per ' + g, (ep.items || []).map((i) => bucket(i.bucket, g)),
                        [{ label: 'requests', data: (ep.items || []).map((i) => i.requests) },
                         { label: '5xx', data: (ep.items || []).map((i) => i.status_5xx) }]);
        if (c) box.append(el('div', { class: 'spark' }, c));
        box.append(table('Per ' + g, [['Bucket', 'bucket', false, (i) => bucket(i.bucket, g)]].concat(counts, q),
                         ep.items || [], 'endpoint-buckets'));
        return box;
    }

    const HANDLERS = { overview, users, enrichment, sharing, jobs, system };

    // ------------------------------------------------------------ routing
    async function route() {
        if (!sessionStorage.getItem(TOKEN_KEY)) return show('signin');
        const parts = hashParts();
        const page = PAGES.find((p) => parts.page === '/' + p || parts.page === p) || 'overview';
        const gen = ++generation;
        rangeShow(parts.range);
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
        $('range').addEventListener('submit', rangeApply);
        $('range-reset').addEventListener('click', () => setHash(hashParts().page || 'overview', new URLSearchParams()));
        window.addEventListener('hashchange', route);
        route();
    }

    start();
})();
