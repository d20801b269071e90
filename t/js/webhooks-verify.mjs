// webhooks-verify.mjs: verifies webhook deliveries with the official standardwebhooks package; prints one JSON array of results.
// Usage: node webhooks-verify.mjs < input.json   (NODE_PATH-free: copy it into t/.npm and run it from there)
//   input:  {"secret": "whsec_...", "deliveries": [{"headers": {"webhook-id": ..., ...}, "body": "raw string"}, ...]}
//           "body" is text (its UTF-8 bytes are verified): from Perl, utf8::decode the raw bytes and
//           encode with JSON::PP->new->utf8; or send "body_base64" instead (the exact bytes, any bytes)
//   output: [{"ok": true, "payload": <the parsed JSON body>} | {"ok": false, "error": "<message>"}, ...]
//           one per delivery, in order; exit 0 unless the input itself is unreadable.
// Verification is new Webhook(secret).verify(body, headers): the library's own
// 5-minute timestamp tolerance against the current clock applies.
import { Webhook } from 'standardwebhooks';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const { secret, deliveries = [] } = JSON.parse(input);

const results = deliveries.map((d) => {
    try {
        const body = d.body_base64 !== undefined ? new Uint8Array(Buffer.from(d.body_base64, 'base64')) : d.body;
        const payload = new Webhook(secret).verify(body, d.headers || {});
        return { ok: true, payload: payload === undefined ? null : payload };
    } catch (e) {
        return { ok: false, error: String(e && e.message || e) };
    }
});
console.log(JSON.stringify(results));
