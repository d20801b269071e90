// auth-sso.mjs: one single sign-on through @supabase/supabase-js (flowType pkce): signInWithOAuth, the browser's redirects walked by hand, exchangeCodeForSession; prints one JSON line.
// Usage: node auth-sso.mjs URL ANON_KEY PROVIDER REDIRECT_TO [TAMPER]   (run from the npm prefix)
// TAMPER: forge_state (the callback gets another state), wrong_verifier (the code is
//         exchanged with another verifier), replay (the code is exchanged twice)
import { createClient } from '@supabase/supabase-js';

const [url, anonKey, provider, redirectTo, tamper] = process.argv.slice(2);
const sb = createClient(url, anonKey, {
    auth: { flowType: 'pkce', persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: class NoWebSocket {} },
});
const out = {};
const errOf = (e) => e ? { status: e.status, code: e.code, message: e.message } : null;
const hop = async (u) => {
    const r = await fetch(u, { redirect: 'manual' });
    return { status: r.status, location: r.headers.get('location'), body: r.status >= 400 ? await r.text() : null };
};

const { data, error } = await sb.auth.signInWithOAuth({ provider, options: { redirectTo, skipBrowserRedirect: true } });
out.start = { error: errOf(error), url: data?.url };
let h = await hop(data.url);                      // promptd's authorize -> the provider
out.authorize = { status: h.status, location: h.location, body: h.body };
if (h.status === 302) {
    h = await hop(h.location);                    // the provider -> promptd's callback
    out.provider = { status: h.status, location: h.location };
    let cb = h.location;
    if (tamper === 'forge_state' && cb) {
        const u = new URL(cb);
        u.searchParams.set('state', 'forged' + u.searchParams.get('state').slice(6));
        cb = u.toString();
    }
    if (cb) {
        h = await hop(cb);                        // promptd's callback -> the app
        out.callback = { status: h.status, location: h.location };
        const back = h.location ? new URL(h.location) : null;
        const code = back?.searchParams.get('code');
        out.back = back ? { origin: back.origin + back.pathname, error: back.searchParams.get('error'),
                            error_code: back.searchParams.get('error_code'),
                            error_description: back.searchParams.get('error_description') } : null;
        if (code && tamper === 'wrong_verifier') {
            const r = await fetch(url + '/auth/v1/token?grant_type=pkce', { method: 'POST',
                headers: { 'Content-Type': 'application/json', apikey: anonKey },
                body: JSON.stringify({ auth_code: code, code_verifier: 'x'.repeat(43) }) });
            out.exchange = { status: r.status, body: await r.json() };
        } else if (code) {
            const r = await sb.auth.exchangeCodeForSession(code);
            const s = r.data?.session;
            out.exchange = { error: errOf(r.error), email: s?.user?.email ?? null,
                             user_id: s?.user?.id ?? null,
                             identities: (s?.user?.identities ?? []).map((i) => i.provider),
                             amr: s ? JSON.parse(Buffer.from(s.access_token.split('.')[1], 'base64url')).amr : null };
            if (tamper === 'replay') {
                const again = await fetch(url + '/auth/v1/token?grant_type=pkce', { method: 'POST',
                    headers: { 'Content-Type': 'application/json', apikey: anonKey },
                    body: JSON.stringify({ auth_code: code, code_verifier: 'y'.repeat(43) }) });
                out.replay = { status: again.status, body: await again.json() };
            }
            if (s) {
                const u = await sb.auth.getUser();
                out.getUser = { error: errOf(u.error), email: u.data.user?.email ?? null };
            }
        }
    }
}
console.log(JSON.stringify(out));
