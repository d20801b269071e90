// auth-email.mjs: one step of the mail flows through @supabase/supabase-js's auth client; prints one JSON line.
// Usage: node auth-email.mjs URL ANON_KEY STEP JSON_ARGS   (run from the npm prefix)
import { createClient } from '@supabase/supabase-js';

const [url, anonKey, step, argsJson] = process.argv.slice(2);
const a = JSON.parse(argsJson || '{}');
const sb = createClient(url, anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: class NoWebSocket {} },
});
const errOf = (e) => e ? { status: e.status, code: e.code, message: e.message } : null;
const sess = (s) => s ? { access_token: s.access_token, refresh_token: s.refresh_token,
                          email: s.user?.email } : null;
let r;
switch (step) {
case 'signUp':
    r = await sb.auth.signUp({ email: a.email, password: a.password,
                               options: { emailRedirectTo: a.redirect } });
    console.log(JSON.stringify({ error: errOf(r.error), user: r.data.user?.email ?? null,
        confirmed: r.data.user?.email_confirmed_at ?? null, session: sess(r.data.session) }));
    break;
case 'signIn':
    r = await sb.auth.signInWithPassword({ email: a.email, password: a.password });
    console.log(JSON.stringify({ error: errOf(r.error), session: sess(r.data.session) }));
    break;
case 'verifyOtp':
    r = await sb.auth.verifyOtp(a.token_hash ? { token_hash: a.token_hash, type: a.type }
                                             : { email: a.email, token: a.token, type: a.type });
    console.log(JSON.stringify({ error: errOf(r.error), session: sess(r.data.session),
        amr: r.data.session ? JSON.parse(Buffer.from(r.data.session.access_token.split('.')[1],
                                                     'base64url')).amr : null }));
    break;
case 'resend':
    r = await sb.auth.resend({ type: a.type, email: a.email });
    console.log(JSON.stringify({ error: errOf(r.error) }));
    break;
case 'reset':
    r = await sb.auth.resetPasswordForEmail(a.email, { redirectTo: a.redirect });
    console.log(JSON.stringify({ error: errOf(r.error) }));
    break;
case 'otp':
    r = await sb.auth.signInWithOtp({ email: a.email, options: { shouldCreateUser: a.create } });
    console.log(JSON.stringify({ error: errOf(r.error) }));
    break;
case 'updateUser':
    r = await sb.auth.setSession({ access_token: a.access_token, refresh_token: a.refresh_token });
    if (r.error) { console.log(JSON.stringify({ error: errOf(r.error) })); break; }
    r = await sb.auth.updateUser(a.attrs);
    console.log(JSON.stringify({ error: errOf(r.error), email: r.data.user?.email ?? null }));
    break;
default:
    console.log(JSON.stringify({ error: { message: 'unknown step ' + step } }));
}
