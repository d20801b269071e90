// fake-oidc.mjs: a loopback OpenID Connect provider (discovery, authorize, token with PKCE and client authentication, JWKS, RS256 ID tokens) that also answers GitHub's OAuth and user API, for the single sign-on tests.
// Usage: node fake-oidc.mjs CLIENT_ID CLIENT_SECRET   -> prints {"port": N}, serves on 127.0.0.1:N
// Control: POST /_control {id_token: {claim overrides, null removes}, sign_with_other_key, token_delay_ms,
//          deny, github_email, github_verified, github_id}; GET /_log -> the requests seen.
import crypto from 'node:crypto';
import http from 'node:http';

const [clientId, clientSecret] = process.argv.slice(2);
const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
let base = '';
let control = {};
const codes = new Map();    // code -> {redirect_uri, nonce, challenge, method, github}
const log = [];

const b64u = (b) => Buffer.from(b).toString('base64url');
const send = (res, status, body, headers = {}) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
};
function idToken(claims, key) {
    const header = { alg: 'RS256', typ: 'JWT', kid: 'k1' };
    const input = b64u(JSON.stringify(header)) + '.' + b64u(JSON.stringify(claims));
    return input + '.' + b64u(crypto.sign('sha256', Buffer.from(input), key));
}
function clientOk(req, form) {
    const h = req.headers.authorization || '';
    if (h.startsWith('Basic ')) {
        const [id, secret] = Buffer.from(h.slice(6), 'base64').toString().split(':').map(decodeURIComponent);
        return { ok: id === clientId && secret === clientSecret, how: 'basic' };
    }
    return { ok: form.get('client_id') === clientId && form.get('client_secret') === clientSecret, how: 'post' };
}
function authorize(u, res, github) {
    const q = u.searchParams;
    if (q.get('client_id') !== clientId || q.get('response_type') !== 'code')
        return send(res, 400, { error: 'invalid_request' });
    const back = new URL(q.get('redirect_uri'));
    if (control.deny) {
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_description', 'The user said no');
    } else {
        const code = b64u(crypto.randomBytes(16));
        codes.set(code, { redirect_uri: q.get('redirect_uri'), nonce: q.get('nonce'),
                          challenge: q.get('code_challenge'), method: q.get('code_challenge_method'),
                          github });
        back.searchParams.set('code', code);
    }
    back.searchParams.set('state', q.get('state'));
    res.writeHead(302, { Location: back.toString() });
    res.end();
}
function token(req, form, res, github) {
    if (control.token_delay_ms > 0 && !form.get('delayed')) {   // a slow provider
        form.set('delayed', '1');
        return setTimeout(() => token(req, form, res, github), control.token_delay_ms);
    }
    const c = codes.get(form.get('code'));
    const client = clientOk(req, form);
    log[log.length - 1].client_auth = client.how;
    if (!client.ok) return send(res, 401, { error: 'invalid_client' });
    if (!c || c.github !== github || c.redirect_uri !== form.get('redirect_uri'))
        return send(res, 400, { error: 'invalid_grant' });
    codes.delete(form.get('code'));
    const v = form.get('code_verifier') || '';
    const s256 = crypto.createHash('sha256').update(v).digest('base64url');
    if (c.method !== 'S256' || s256 !== c.challenge) return send(res, 400, { error: 'invalid_grant', error_description: 'PKCE' });
    if (github) return send(res, 200, { access_token: 'gho_' + b64u(crypto.randomBytes(12)), token_type: 'bearer', scope: 'read:user,user:email' });
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: base, sub: 'acme-user-1', aud: clientId, iat: now, exp: now + 300, nonce: c.nonce,
                     email: 'sso.user@example.com', email_verified: true, name: 'Sso User' };
    for (const [k, val] of Object.entries(control.id_token || {})) {
        if (val === null) delete claims[k]; else claims[k] = val;
    }
    send(res, 200, { access_token: 'at-' + b64u(crypto.randomBytes(12)), token_type: 'Bearer', expires_in: 300,
                     id_token: idToken(claims, control.sign_with_other_key ? other.privateKey : privateKey) });
}

const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
        const u = new URL(req.url, base);
        const body = Buffer.concat(chunks).toString();
        if (!u.pathname.startsWith('/_')) log.push({ method: req.method, path: u.pathname, query: u.search, body });
        const form = new URLSearchParams(body);
        const gh = (req.headers.authorization || '').startsWith('Bearer gho_');
        switch (`${req.method} ${u.pathname}`) {
        case 'POST /_control': control = JSON.parse(body || '{}'); return send(res, 200, control);
        case 'GET /_log': return send(res, 200, log);
        case 'GET /.well-known/openid-configuration':
            return send(res, 200, { issuer: control.issuer || base, authorization_endpoint: base + '/authorize',
                token_endpoint: base + '/token', jwks_uri: base + '/jwks', response_types_supported: ['code'],
                subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'],
                token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
                code_challenge_methods_supported: ['S256'] });
        case 'GET /jwks': {
            const jwk = publicKey.export({ format: 'jwk' });
            return send(res, 200, { keys: [{ ...jwk, kid: 'k1', alg: 'RS256', use: 'sig' }] });
        }
        case 'GET /authorize': return authorize(u, res, false);
        case 'POST /token': return token(req, form, res, false);
        case 'GET /login/oauth/authorize': return authorize(u, res, true);
        case 'POST /login/oauth/access_token': return token(req, form, res, true);
        case 'GET /user':
            if (!gh) return send(res, 401, { message: 'Bad credentials' });
            return send(res, 200, { id: control.github_id || 4242, login: 'octo', name: 'Octo Cat' });
        case 'GET /user/emails':
            if (!gh) return send(res, 401, { message: 'Bad credentials' });
            return send(res, 200, [{ email: 'octo.other@example.com', primary: false, verified: true },
                                   { email: control.github_email || 'octo@example.com', primary: true,
                                     verified: control.github_verified !== false }]);
        default: return send(res, 404, { error: 'not_found' });
        }
    });
});
server.listen(0, '127.0.0.1', () => {
    base = `http://127.0.0.1:${server.address().port}`;
    console.log(JSON.stringify({ port: server.address().port }));
});
// bounded life: the test ends it; this ends it anyway
setTimeout(() => process.exit(0), 15 * 60 * 1000).unref();
