// stripe-fake.mjs: the official stripe-node client against t/lib/Promptd/FakeStripe.pm (proving the fake speaks Stripe's wire format), and its webhook signer for promptd. One JSON line per step.
// usage: node stripe-fake.mjs PORT SECRET_KEY WEBHOOK_SECRET PAYLOAD_FILE FAKE_SIGNATURE
import fs from 'node:fs';
import Stripe from 'stripe';

const [port, key, whsec, payloadFile, fakeSig] = process.argv.slice(2);
const out = (step, o) => console.log(JSON.stringify({ step, ...o }));
const client = (k) => new Stripe(k, { host: '127.0.0.1', port: Number(port), protocol: 'http',
  apiVersion: '2024-06-20', maxNetworkRetries: 0 });
const stripe = client(key);
const err = (e) => ({ type: e.type, code: e.code ?? null, statusCode: e.statusCode, message: e.message });

const c1 = await stripe.customers.create({ metadata: { promptd_user_id: 'u-js' } }, { idempotencyKey: 'js-cus-1' });
out('customer', { id: c1.id, object: c1.object, metadata: c1.metadata });
const c2 = await stripe.customers.create({ metadata: { promptd_user_id: 'u-js' } }, { idempotencyKey: 'js-cus-1' });
out('customer_replay', { id: c2.id });
try {
  await stripe.customers.create({ metadata: { promptd_user_id: 'other' } }, { idempotencyKey: 'js-cus-1' });
  out('idempotency_conflict', { error: null });
} catch (e) { out('idempotency_conflict', err(e)); }
const cs = await stripe.checkout.sessions.create({ mode: 'subscription', customer: c1.id,
  line_items: [{ price: 'price_pro_m', quantity: 1 }], success_url: 'https://app.example.com/ok',
  cancel_url: 'https://app.example.com/no', subscription_data: { metadata: { promptd_user_id: 'u-js' } } },
  { idempotencyKey: 'js-cs-1' });
out('checkout', { id: cs.id, object: cs.object, url: cs.url, mode: cs.mode });
const ps = await stripe.billingPortal.sessions.create({ customer: c1.id, return_url: 'https://app.example.com/' },
  { idempotencyKey: 'js-ps-1' });
out('portal', { object: ps.object, url: ps.url });
try { await stripe.customers.retrieve('cus_missing'); out('missing', { error: null }); }
catch (e) { out('missing', err(e)); }
try { await client('sk_test_wrong').customers.retrieve(c1.id); out('bad_key', { error: null }); }
catch (e) { out('bad_key', err(e)); }
const subs = await stripe.subscriptions.list({ customer: c1.id });
out('list', { object: subs.object, n: subs.data.length });

const payload = fs.readFileSync(payloadFile, 'utf8');
out('sign', { header: stripe.webhooks.generateTestHeaderString({ payload, secret: whsec }) });
try { const ev = stripe.webhooks.constructEvent(payload, fakeSig, whsec); out('verify_fake', { id: ev.id, type: ev.type }); }
catch (e) { out('verify_fake', { error: e.message }); }
