// supabase-flow.mjs: drives @supabase/supabase-js against a promptd stack; prints one JSON result line per step.
// Usage: node supabase-flow.mjs URL ANON_KEY EMAIL PASSWORD   (NODE_PATH-free: run from the npm prefix)
import { createClient } from '@supabase/supabase-js';

const [url, anonKey, email, password] = process.argv.slice(2);
const sent = [];
const recordingFetch = async (input, init = {}) => {
    const h = new Headers(init.headers || {});
    sent.push({ url: String(input), method: init.method || 'GET',
                apikey: h.get('apikey'), client: h.get('x-client-info') });
    return fetch(input, init);
};
const sb = createClient(url, anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: { fetch: recordingFetch },
    // Node < 22 has no WebSocket; realtime is never used here.
    realtime: { transport: class NoWebSocket {} },
});
const out = (step, v) => console.log(JSON.stringify({ step, ...v }));
const errOf = (e) => e ? { name: e.name, status: e.status, code: e.code, message: e.message } : null;

let r = await sb.auth.signUp({ email, password, options: { data: { from: 'js' } } });
out('signUp', { error: errOf(r.error), user: r.data.user?.email, session: !!r.data.session,
                meta: r.data.user?.user_metadata });
r = await sb.auth.signUp({ email: 'weak-' + email, password: 'short' });
out('signUpWeak', { error: errOf(r.error), reasons: r.error?.reasons });
r = await sb.auth.signInWithPassword({ email, password: password + 'x' });
out('signInWrong', { error: errOf(r.error) });
r = await sb.auth.signInWithPassword({ email: email.toUpperCase(), password });
const first = r.data.session;
out('signIn', { error: errOf(r.error), user: r.data.user?.email, expires_at: first?.expires_at,
                token_type: first?.token_type });
r = await sb.auth.getUser();
out('getUser', { error: errOf(r.error), id: r.data.user?.id, same: r.data.user?.id === first?.user?.id });
r = await sb.auth.refreshSession();
out('refreshSession', { error: errOf(r.error), rotated: !!r.data.session &&
                        r.data.session.refresh_token !== first?.refresh_token });
const api = await fetch(url + '/api/v1/prompts', {
    headers: { Authorization: 'Bearer ' + r.data.session?.access_token } });
out('apiWithToken', { status: api.status });
r = await sb.auth.signOut();
out('signOut', { error: errOf(r.error) });
r = await sb.auth.getUser();
out('getUserAfterSignOut', { error: errOf(r.error), user: r.data.user?.id ?? null });
out('headers', { sent });
