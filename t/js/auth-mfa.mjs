// auth-mfa.mjs: drives @supabase/supabase-js's auth.mfa (enroll, challenge, verify, challengeAndVerify, listFactors, getAuthenticatorAssuranceLevel, unenroll) against promptd; prints one JSON result line per step.
// Usage: node auth-mfa.mjs URL ANON_KEY EMAIL PASSWORD   (run from the npm prefix)
import { createHmac } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';

const [url, anonKey, email, password] = process.argv.slice(2);
const client = () => createClient(url, anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: class NoWebSocket {} },
});
const out = (step, v) => console.log(JSON.stringify({ step, ...v }));
const errOf = (e) => e ? { name: e.name, status: e.status, code: e.code, message: e.message } : null;
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

// RFC 6238 with the authenticator's defaults (SHA-1, 6 digits, 30 s).
const base32 = (s) => {
    const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    let bits = 0, buf = 0;
    const bytes = [];
    for (const c of s.replace(/=+$/, '')) {
        buf = (buf << 5) | abc.indexOf(c); bits += 5;
        if (bits >= 8) { bytes.push((buf >>> (bits - 8)) & 255); bits -= 8; }
    }
    return Buffer.from(bytes);
};
const totp = (secret, step) => {
    const msg = Buffer.alloc(8);
    msg.writeBigUInt64BE(BigInt(step));
    const mac = createHmac('sha1', base32(secret)).update(msg).digest();
    const off = mac[mac.length - 1] & 15;
    return String((mac.readUInt32BE(off) & 0x7fffffff) % 1000000).padStart(6, '0');
};
const now = () => Math.floor(Date.now() / 30000);

const sb = client();
let r = await sb.auth.signUp({ email, password });
out('signUp', { error: errOf(r.error), session: !!r.data.session });
r = await sb.auth.mfa.getAuthenticatorAssuranceLevel();
out('aal_before', { error: errOf(r.error), ...r.data });

r = await sb.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'phone', issuer: 'promptd-test' });
out('enroll', { error: errOf(r.error), id: r.data?.id, type: r.data?.type,
                friendly_name: r.data?.friendly_name, qr_code: r.data?.totp?.qr_code,
                secret: r.data?.totp?.secret, uri: r.data?.totp?.uri });
const factorId = r.data?.id, secret = r.data?.totp?.secret;
r = await sb.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'phone' });
out('enroll_same_name', { error: errOf(r.error) });
r = await sb.auth.mfa.listFactors();
out('list_unverified', { error: errOf(r.error), all: r.data?.all.map((f) => f.status), totp: r.data?.totp.length });

r = await sb.auth.mfa.challenge({ factorId });
out('challenge', { error: errOf(r.error), id: r.data?.id, type: r.data?.type, expires_at: r.data?.expires_at });
const challengeId = r.data?.id;
r = await sb.auth.mfa.verify({ factorId, challengeId, code: totp(secret, now() + 5) });
out('verify_wrong', { error: errOf(r.error) });
const step1 = now();
r = await sb.auth.mfa.verify({ factorId, challengeId, code: totp(secret, step1) });
out('verify', { error: errOf(r.error), aal: r.data && claims(r.data.access_token).aal,
                amr: r.data && claims(r.data.access_token).amr.map((m) => m.method),
                session_id: r.data && claims(r.data.access_token).session_id,
                refresh_token: r.data?.refresh_token, totp_step: step1 });
r = await sb.auth.mfa.getAuthenticatorAssuranceLevel();
out('aal_after', { error: errOf(r.error), currentLevel: r.data?.currentLevel, nextLevel: r.data?.nextLevel,
                   methods: r.data?.currentAuthenticationMethods.map((m) => m.method) });
r = await sb.auth.mfa.listFactors();
out('list_verified', { error: errOf(r.error), all: r.data?.all.map((f) => f.status), totp: r.data?.totp.length });
r = await sb.auth.refreshSession();
out('refresh', { error: errOf(r.error), aal: r.data?.session && claims(r.data.session.access_token).aal });

// A second sign-in: aal1 with aal2 next; a code of the next step passes.
const sb2 = client();
r = await sb2.auth.signInWithPassword({ email, password });
out('signIn2', { error: errOf(r.error) });
r = await sb2.auth.mfa.getAuthenticatorAssuranceLevel();
out('aal_signin2', { error: errOf(r.error), currentLevel: r.data?.currentLevel, nextLevel: r.data?.nextLevel });
r = await sb2.auth.mfa.unenroll({ factorId });
out('unenroll_aal1', { error: errOf(r.error) });
r = await sb2.auth.mfa.challengeAndVerify({ factorId, code: totp(secret, step1) });
out('reused_code', { error: errOf(r.error) });
r = await sb2.auth.mfa.challengeAndVerify({ factorId, code: totp(secret, step1 + 1) });
out('challengeAndVerify', { error: errOf(r.error), aal: r.data && claims(r.data.access_token).aal });
r = await sb2.auth.mfa.unenroll({ factorId });
out('unenroll', { error: errOf(r.error), id: r.data?.id });
r = await sb2.auth.mfa.listFactors();
out('list_after', { error: errOf(r.error), all: r.data?.all.length });
r = await sb2.auth.refreshSession();
out('refresh_after', { error: errOf(r.error), aal: r.data?.session && claims(r.data.session.access_token).aal,
                       amr: r.data?.session && claims(r.data.session.access_token).amr.map((m) => m.method) });
r = await sb2.auth.mfa.getAuthenticatorAssuranceLevel();
out('aal_end', { error: errOf(r.error), currentLevel: r.data?.currentLevel, nextLevel: r.data?.nextLevel });
