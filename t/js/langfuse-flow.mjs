// langfuse-flow.mjs: drives the official @langfuse/client against promptd's /api/public/v2/prompts; prints one JSON result line per step.
// Usage: node langfuse-flow.mjs BASE_URL KEY_ID KEY OTHER_KEY_ID OTHER_KEY   (run from the npm prefix)
import { LangfuseClient } from '@langfuse/client';

const [baseUrl, keyId, key, otherId, otherKey] = process.argv.slice(2);
const out = (step, v) => console.log(JSON.stringify({ step, ...v }));
const fresh = { cacheTtlSeconds: 0 };
const shape = (p) => ({ name: p.name, version: p.version, type: p.type, prompt: p.prompt, config: p.config,
                        labels: p.labels, tags: p.tags, commitMessage: p.commitMessage });
const status = async (f) => {
    try { await f(); return { ok: true }; }
    catch (e) { return { ok: false, status: e.statusCode, name: e.constructor.name }; }
};

const lf = new LangfuseClient({ publicKey: keyId, secretKey: key, baseUrl });
try {
    const t1 = await lf.prompt.create({ name: 'lf/greeting', type: 'text', prompt: 'Hello {{name}}!',
        labels: ['production'], config: { model: 'gpt-4o', temperature: 0.3 }, tags: ['greet'],
        commitMessage: 'first cut' });
    out('create_text', shape(t1));
    const t2 = await lf.prompt.create({ name: 'lf/greeting', type: 'text', prompt: 'Hi {{name}}, welcome.',
        config: { model: 'gpt-4o-mini' }, labels: ['staging'] });
    out('create_text_v2', shape(t2));

    const g = await lf.prompt.get('lf/greeting', fresh);
    out('get', { ...shape(g), compiled: g.compile({ name: 'Ada' }) });
    const gl = await lf.prompt.get('lf/greeting', { ...fresh, label: 'latest' });
    out('get_latest', { ...shape(gl), compiled: gl.compile({ name: 'Bo' }) });
    const gs = await lf.prompt.get('lf/greeting', { ...fresh, label: 'staging' });
    out('get_staging', shape(gs));
    const gv = await lf.prompt.get('lf/greeting', { ...fresh, version: 1 });
    out('get_version', shape(gv));

    const u = await lf.prompt.update({ name: 'lf/greeting', version: 2, newLabels: ['production'] });
    out('update', { version: u.version, labels: u.labels });
    const g2 = await lf.prompt.get('lf/greeting', fresh);
    out('after_update', { ...shape(g2), compiled: g2.compile({ name: 'Cy' }) });

    const c = await lf.prompt.create({ name: 'lf/chat', type: 'chat', labels: ['production'], tags: ['chat'],
        config: { model: 'claude' }, prompt: [ { role: 'system', content: 'You are {{persona}}.' },
            { type: 'placeholder', name: 'history' }, { role: 'user', content: '{{question}}' } ] });
    out('create_chat', shape(c));
    const cg = await lf.prompt.get('lf/chat', { ...fresh, type: 'chat' });
    out('chat_compile', { ...shape(cg), compiled: cg.compile({ persona: 'a pirate', question: 'Where to?' },
        { history: [ { role: 'user', content: 'Ahoy' }, { role: 'assistant', content: 'Arr' } ] }) });

    const list = await lf.api.prompts.list({});
    out('list', list);
    const listed = await lf.api.prompts.list({ tag: 'chat' });
    out('list_tag', listed);

    // another account's key sees nothing and changes nothing
    const other = new LangfuseClient({ publicKey: otherId, secretKey: otherKey, baseUrl });
    out('other_get', await status(() => other.prompt.get('lf/greeting', fresh)));
    out('other_update', await status(() => other.prompt.update({ name: 'lf/greeting', version: 1, newLabels: ['production'] })));
    out('other_delete', await status(() => other.prompt.delete('lf/greeting')));
    // a key id that is not the key's
    const wrong = new LangfuseClient({ publicKey: otherId, secretKey: key, baseUrl });
    out('wrong_pair', await status(() => wrong.prompt.get('lf/greeting', fresh)));

    await lf.prompt.delete('lf/greeting', { version: 1 });
    out('delete_version', await status(() => lf.prompt.get('lf/greeting', { ...fresh, version: 1 })));
    const after = await lf.prompt.get('lf/greeting', fresh);
    out('after_delete_version', shape(after));
    await lf.prompt.delete('lf/chat');
    out('delete_prompt', await status(() => lf.prompt.get('lf/chat', { ...fresh, type: 'chat' })));
} catch (e) {
    out('error', { message: String(e && e.message), status: e && e.statusCode, body: e && e.body });
    process.exit(1);
}
