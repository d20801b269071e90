// storage-flow.mjs: drives promptd's storage family with the official @supabase/storage-js client (unchanged, pointed at promptd); prints one JSON object of every step's outcome.
// Usage: node storage-flow.mjs BASE_URL ACCESS_TOKEN APIKEY   (copied into t/.npm and run from there)
//   BASE_URL: http://127.0.0.1:PORT (the client talks to BASE_URL/storage/v1)
// Each step records {data, error} as the client returned them (errors as
// {name, message, status, statusCode}); downloads record the bytes' length
// and text.  Exit 0 unless the client threw outside a step.
import { StorageClient } from '@supabase/storage-js';

const [base, token, apikey] = process.argv.slice(2);
const storage = new StorageClient(`${base}/storage/v1`, { apikey, Authorization: `Bearer ${token}` });
const out = {};

const err = (e) => (e ? { name: e.name, message: e.message, status: e.status, statusCode: e.statusCode } : null);
async function step(name, fn) {
    try {
        const { data, error } = await fn();
        out[name] = { data: data ?? null, error: err(error) };
    } catch (e) {
        out[name] = { data: null, error: { name: 'thrown', message: String(e && e.message || e) } };
    }
}
async function blobText(b) { return b ? Buffer.from(await b.arrayBuffer()).toString('utf8') : null; }

await step('createBucket', () => storage.createBucket('js-files', { public: false, fileSizeLimit: '1MB' }));
await step('createPublic', () => storage.createBucket('js-public', { public: true }));
await step('listBuckets', () => storage.listBuckets());
await step('getBucket', () => storage.getBucket('js-files'));
await step('updateBucket', () => storage.updateBucket('js-files', { public: false, allowedMimeTypes: ['text/plain', 'image/png'] }));
await step('getUpdated', () => storage.getBucket('js-files'));
const files = storage.from('js-files');
await step('uploadString', () => files.upload('folder/hello.txt', 'hello from storage-js\n', { contentType: 'text/plain' }));
await step('uploadBlob', () => files.upload('folder/blob.txt', new Blob(['a blob body\n'], { type: 'text/plain' })));
await step('uploadDuplicate', () => files.upload('folder/hello.txt', 'again'));
await step('uploadUpsert', () => files.upload('folder/hello.txt', 'hello again\n', { upsert: true, contentType: 'text/plain' }));
await step('update', () => files.update('folder/blob.txt', new Blob(['updated blob\n'], { type: 'text/plain' })));
await step('list', () => files.list('folder', { limit: 10, sortBy: { column: 'name', order: 'asc' } }));
await step('listRoot', () => files.list());
await step('info', () => files.info('folder/hello.txt'));
await step('exists', () => files.exists('folder/hello.txt'));
await step('existsNot', () => files.exists('folder/none.txt'));
{
    const { data, error } = await files.download('folder/hello.txt');
    out.download = { text: await blobText(data), error: err(error) };
}
{
    const { data, error } = await files.download('folder/none.txt');
    out.downloadMissing = { text: await blobText(data), error: err(error) };
}
await step('createSignedUrl', () => files.createSignedUrl('folder/hello.txt', 60));
if (out.createSignedUrl.data) {
    const res = await fetch(out.createSignedUrl.data.signedUrl);
    out.fetchSigned = { status: res.status, text: await res.text() };
}
await step('createSignedUrls', () => files.createSignedUrls(['folder/hello.txt', 'folder/none.txt'], 60));
await step('createSignedUploadUrl', () => files.createSignedUploadUrl('folder/dropped.txt'));
if (out.createSignedUploadUrl.data) {
    const { token: t } = out.createSignedUploadUrl.data;
    await step('uploadToSignedUrl', () => files.uploadToSignedUrl('folder/dropped.txt', t, 'dropped in\n', { contentType: 'text/plain' }));
}
const pub = storage.from('js-public');
await step('uploadPublic', () => pub.upload('p.txt', 'public words\n', { contentType: 'text/plain' }));
out.publicUrl = pub.getPublicUrl('p.txt').data;
{
    const res = await fetch(out.publicUrl.publicUrl);
    out.fetchPublic = { status: res.status, text: await res.text() };
}
await step('move', () => files.move('folder/blob.txt', 'moved/blob.txt'));
await step('copy', () => files.copy('moved/blob.txt', 'copied/blob.txt'));
await step('remove', () => files.remove(['moved/blob.txt', 'copied/blob.txt', 'folder/dropped.txt']));
await step('listAfter', () => files.list('moved'));
await step('wrongType', () => files.upload('folder/page.html', '<!DOCTYPE html><html><body>x</body></html>\n', { contentType: 'text/html' }));
await step('emptyBucket', () => storage.emptyBucket('js-files'));
await step('deleteBucket', () => storage.deleteBucket('js-files'));
await step('getDeleted', () => storage.getBucket('js-files'));
console.log(JSON.stringify(out));
