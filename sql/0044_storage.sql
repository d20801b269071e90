-- 0044_storage.sql: files (issue 16): the storage schema as Supabase Storage has it (buckets, objects under RLS, reused when present), promptd's blobs in chunks, storage-bytes holds, signed-URL records, the storage.gc schedule.

-- API keys may hold storage (the storage family's routes).
alter table public.api_keys drop constraint api_keys_scopes_check;
alter table public.api_keys add constraint api_keys_scopes_check
    check (cardinality(scopes) between 1 and 7
           and scopes <@ array['prompts:read', 'prompts:write', 'enrich',
                               'share', 'admin', 'webhooks:write', 'storage']::text[]);

-- Schema storage, as on Supabase.  Grants are made only on what is created
-- here: a Supabase database's own are already granted.
do $$
begin
    if not exists (select 1 from pg_catalog.pg_namespace where nspname = 'storage') then
        create schema storage;
        grant usage on schema storage to anon, authenticated, service_role;
    end if;
end
$$;
-- The workers prepare their statements as their login role (names are
-- resolved then; rights are checked as the request's role at execution).
grant usage on schema storage to promptd_app;

create table if not exists storage.buckets (
    id                 text primary key,
    name               text not null,
    owner              uuid,
    created_at         timestamptz default now(),
    updated_at         timestamptz default now(),
    public             boolean default false,
    avif_autodetection boolean default false,
    file_size_limit    bigint,
    allowed_mime_types text[],
    owner_id           text
);
create unique index if not exists bname on storage.buckets (name);

create table if not exists storage.objects (
    id               uuid primary key default gen_random_uuid(),
    bucket_id        text references storage.buckets (id),
    name             text,
    owner            uuid,
    created_at       timestamptz default now(),
    updated_at       timestamptz default now(),
    last_accessed_at timestamptz default now(),
    metadata         jsonb,
    path_tokens      text[] generated always as (string_to_array(name, '/')) stored,
    version          text,
    owner_id         text,
    user_metadata    jsonb
);
create unique index if not exists bucketid_objname on storage.objects (bucket_id, name);
create index if not exists name_prefix_search on storage.objects (name text_pattern_ops);

-- An older Supabase schema may lack the newer columns.
alter table storage.buckets add column if not exists public boolean default false;
alter table storage.buckets add column if not exists file_size_limit bigint;
alter table storage.buckets add column if not exists allowed_mime_types text[];
alter table storage.buckets add column if not exists owner_id text;
alter table storage.objects add column if not exists version text;
alter table storage.objects add column if not exists owner_id text;
alter table storage.objects add column if not exists user_metadata jsonb;

-- promptd's blobs: content-addressed per bucket once sealed (sha256 null
-- while the writing transaction streams its chunks in).
create table promptd.storage_blobs (
    id           bigint generated always as identity primary key,
    bucket_id    text not null,
    sha256       bytea check (octet_length(sha256) = 32),
    size         bigint not null default 0 check (size >= 0),
    content_type text,
    chunks       integer not null default 0 check (chunks >= 0),
    created_at   timestamptz not null default now(),
    last_used_at timestamptz not null default now()
);
create unique index storage_blobs_address on promptd.storage_blobs (bucket_id, sha256)
    where sha256 is not null;
create index storage_blobs_unused on promptd.storage_blobs (last_used_at) where sha256 is not null;
alter table promptd.storage_blobs enable row level security;
alter table promptd.storage_blobs force row level security;
revoke all on table promptd.storage_blobs from public, anon, authenticated, service_role;

-- The bytes, in chunks of PROMPTD_STORAGE_CHUNK (1 MiB): stored as is
-- (most files arrive compressed already).
create table promptd.storage_chunks (
    blob_id bigint not null references promptd.storage_blobs (id) on delete cascade,
    seq     integer not null check (seq >= 0),
    data    bytea not null,
    primary key (blob_id, seq)
);
alter table promptd.storage_chunks alter column data set storage external;
alter table promptd.storage_chunks enable row level security;
alter table promptd.storage_chunks force row level security;
revoke all on table promptd.storage_chunks from public, anon, authenticated, service_role;

-- Which blob holds an object's bytes (promptd's column on Supabase's table).
alter table storage.objects add column if not exists blob_id bigint
    references promptd.storage_blobs (id);
create index if not exists storage_objects_blob on storage.objects (blob_id);
create index if not exists storage_objects_owner on storage.objects (owner);

-- Bytes held for uploads under way (promptd.storage_reserve).
create table promptd.storage_reservations (
    id         uuid primary key default gen_random_uuid(),
    user_id    uuid not null,
    bytes      bigint not null check (bytes >= 0),
    created_at timestamptz not null default now(),
    expires_at timestamptz not null default now() + interval '15 minutes'
);
create index storage_reservations_user on promptd.storage_reservations (user_id, expires_at);
alter table promptd.storage_reservations enable row level security;
alter table promptd.storage_reservations force row level security;
revoke all on table promptd.storage_reservations from public, anon, authenticated, service_role;

-- One row per signed download URL: revocable, and gone with its object.
create table promptd.storage_signed_urls (
    id         uuid primary key default gen_random_uuid(),
    object_id  uuid not null references storage.objects (id) on delete cascade,
    created_by uuid,
    expires_at timestamptz not null,
    revoked_at timestamptz,
    created_at timestamptz not null default now()
);
create index storage_signed_urls_object on promptd.storage_signed_urls (object_id);
create index storage_signed_urls_expiry on promptd.storage_signed_urls (expires_at);
alter table promptd.storage_signed_urls enable row level security;
alter table promptd.storage_signed_urls force row level security;
revoke all on table promptd.storage_signed_urls from public, anon, authenticated, service_role;
-- promptd.storage_sign and storage_revoke run as the caller: they insert
-- and revoke rows for objects the caller can read (their own policy).
grant select, insert on table promptd.storage_signed_urls to authenticated;
grant update (revoked_at) on table promptd.storage_signed_urls to authenticated;

-- Row level security on Supabase's tables, with policies a Supabase admin
-- would write: a user creates buckets, owns them and what is uploaded into
-- them.  Public buckets' objects are read by anyone through
-- promptd.storage_public_object, signed ones through
-- promptd.storage_signed_object (the worker checks the URL's signature).
alter table storage.buckets enable row level security;
alter table storage.objects enable row level security;
grant select, insert, update, delete on table storage.buckets to authenticated, service_role;
grant select, insert, update, delete on table storage.objects to authenticated, service_role;

drop policy if exists "promptd: users see their own buckets" on storage.buckets;
create policy "promptd: users see their own buckets" on storage.buckets
    for select to authenticated using (owner = (select auth.uid()));
drop policy if exists "promptd: users create buckets they own" on storage.buckets;
create policy "promptd: users create buckets they own" on storage.buckets
    for insert to authenticated with check (owner = (select auth.uid()));
drop policy if exists "promptd: users update their own buckets" on storage.buckets;
create policy "promptd: users update their own buckets" on storage.buckets
    for update to authenticated using (owner = (select auth.uid()))
    with check (owner = (select auth.uid()));
drop policy if exists "promptd: users delete their own buckets" on storage.buckets;
create policy "promptd: users delete their own buckets" on storage.buckets
    for delete to authenticated using (owner = (select auth.uid()));

-- The functions (sql/functions/storage.sql), then quota_count_used counting
-- storage_bytes (sql/functions/quota.sql).
-- A signed URL's record is its creator's (promptd.storage_sign and
-- storage_revoke run as the caller).
drop policy if exists storage_signed_urls_own on promptd.storage_signed_urls;
create policy storage_signed_urls_own on promptd.storage_signed_urls for all to authenticated
    using (created_by = (select auth.uid()))
    with check (created_by = (select auth.uid()));

-- promptd.storage_bucket_owned(bucket id): the caller owns the bucket.
-- For the objects' policies (a definer, so they need no grant on buckets).
create or replace function promptd.storage_bucket_owned(p_bucket text)
 returns boolean
 language sql
 stable
 security definer
 set search_path to ''
as $function$
    select exists (select 1 from storage.buckets b
                    where b.id = p_bucket and b.owner = (select auth.uid()))
$function$;
revoke all on function promptd.storage_bucket_owned(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.storage_bucket_owned(text) to authenticated, service_role;

-- promptd.storage_blob_begin(bucket) -> blob id: a blob being written (no
-- hash yet), visible only to the writing transaction until sealed.
create or replace function promptd.storage_blob_begin(p_bucket text)
 returns bigint
 language sql
 security definer
 set search_path to ''
as $function$
    insert into promptd.storage_blobs (bucket_id) values (p_bucket) returning id
$function$;
revoke all on function promptd.storage_blob_begin(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.storage_blob_begin(text) to promptd_app;

-- promptd.storage_chunk_write(blob, seq, data): chunk seq (0, 1, ...) of
-- a blob still being written (22023 otherwise).
create or replace function promptd.storage_chunk_write(p_blob bigint, p_seq integer, p_data bytea)
 returns void
 language plpgsql
 security definer
 set search_path to ''
as $function$
begin
    if not exists (select 1 from promptd.storage_blobs b where b.id = p_blob and b.sha256 is null) then
        raise exception 'blob % is not being written', p_blob using errcode = '22023';
    end if;
    insert into promptd.storage_chunks (blob_id, seq, data) values (p_blob, p_seq, p_data);
end
$function$;
revoke all on function promptd.storage_chunk_write(bigint, integer, bytea) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.storage_chunk_write(bigint, integer, bytea) to promptd_app;

-- promptd.storage_blob_seal(blob, sha256, size, content type, chunks) ->
-- the blob id the object should name: an existing blob of the bucket with
-- the same content (this one is then dropped: deduplicated), else this one,
-- now addressed by its hash.  Serialised per (bucket, hash) by an advisory
-- lock; the existing blob is row-locked and its last_used_at renewed, so
-- promptd.storage_gc (which skips locked rows and spares recent ones)
-- cannot remove it under the object about to name it.
create or replace function promptd.storage_blob_seal(p_blob bigint, p_sha bytea, p_size bigint, p_type text, p_chunks integer)
 returns bigint
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_bucket text;
    v_id     bigint;
begin
    select b.bucket_id into v_bucket from promptd.storage_blobs b
     where b.id = p_blob and b.sha256 is null;
    if v_bucket is null then
        raise exception 'blob % is not being written', p_blob using errcode = '22023';
    end if;
    perform pg_advisory_xact_lock(hashtextextended(
        'promptd.storage_blob:' || v_bucket || ':' || encode(p_sha, 'hex'), 0));
    select b.id into v_id from promptd.storage_blobs b
     where b.bucket_id = v_bucket and b.sha256 = p_sha for update;
    if v_id is not null then
        delete from promptd.storage_blobs b where b.id = p_blob;
        update promptd.storage_blobs b set last_used_at = now() where b.id = v_id;
        return v_id;
    end if;
    update promptd.storage_blobs b
       set sha256 = p_sha, size = p_size, content_type = p_type, chunks = p_chunks,
           last_used_at = now()
     where b.id = p_blob;
    return p_blob;
end
$function$;
revoke all on function promptd.storage_blob_seal(bigint, bytea, bigint, text, integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.storage_blob_seal(bigint, bytea, bigint, text, integer) to promptd_app;

-- promptd.storage_chunk_read(blob, seq) -> the chunk's bytes, or no row.
create or replace function promptd.storage_chunk_read(p_blob bigint, p_seq integer)
 returns bytea
 language sql
 stable
 security definer
 set search_path to ''
as $function$
    select c.data from promptd.storage_chunks c where c.blob_id = p_blob and c.seq = p_seq
$function$;
revoke all on function promptd.storage_chunk_read(bigint, integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.storage_chunk_read(bigint, integer) to promptd_app;

-- promptd.storage_reserve(bytes) -> reservation id: hold bytes of the
-- caller's storage_bytes before an upload writes them, committed on its
-- own so that concurrent uploads see it; refused (PDQ09, as
-- promptd.quota_count_check does) when the objects the caller owns, plus
-- the holds not yet settled, plus bytes would pass the plan's limit.  The
-- advisory lock is the counted resources' one (quota.sql), so any number
-- of workers admit exactly the limit.  A hold ends when the upload's
-- transaction settles it (promptd.storage_settle) or after 15 minutes.
create or replace function promptd.storage_reserve(p_bytes bigint)
 returns uuid
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_user   uuid := auth.uid();
    v_tier   text;
    v_limits jsonb;
    v_lim    bigint;
    v_used   bigint;
    v_id     uuid;
begin
    if v_user is null then
        raise exception 'no caller' using errcode = '42501';
    end if;
    if promptd.quota_enabled() then
        select l.tier, l.limits into v_tier, v_limits from promptd.quota_limits(v_user) l;
        v_lim := promptd.quota_num(v_limits, 'storage_bytes');
        if v_lim is not null then
            perform pg_advisory_xact_lock(hashtextextended('promptd.quota:storage_bytes:' || v_user::text, 0));
            v_used := promptd.quota_count_used(v_user, 'storage_bytes');
            if v_used + p_bytes > v_lim then
                perform promptd.quota_refuse(v_user, v_tier, 'storage_bytes', v_lim, v_used, null);
            end if;
        end if;
    end if;
    insert into promptd.storage_reservations (user_id, bytes) values (v_user, p_bytes)
    returning id into v_id;
    return v_id;
end
$function$;
revoke all on function promptd.storage_reserve(bigint) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.storage_reserve(bigint) to authenticated;

-- promptd.storage_settle(reservation id): end the caller's hold, in the
-- transaction that writes the object (whose size then counts instead).
create or replace function promptd.storage_settle(p_id uuid)
 returns void
 language sql
 security definer
 set search_path to ''
as $function$
    delete from promptd.storage_reservations r where r.id = p_id and r.user_id = (select auth.uid())
$function$;
revoke all on function promptd.storage_settle(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.storage_settle(uuid) to authenticated;

-- promptd.storage_public_object(bucket, name) -> the object of a public
-- bucket, for anyone: what a download needs (id, blob, size, type, ETag,
-- cache control, Last-Modified as an HTTP date).  No row: no such object,
-- or the bucket is not public.
create or replace function promptd.storage_public_object(p_bucket text, p_name text)
 returns table(id uuid, blob_id bigint, size bigint, content_type text, etag text,
               cache_control text, last_modified text)
 language sql
 stable
 security definer
 set search_path to ''
as $function$
    select o.id, o.blob_id, coalesce((o.metadata->>'size')::bigint, 0),
           coalesce(o.metadata->>'mimetype', 'application/octet-stream'),
           coalesce(o.metadata->>'eTag', '""'), o.metadata->>'cacheControl',
           to_char(o.updated_at at time zone 'UTC', 'Dy, DD Mon YYYY HH24:MI:SS "GMT"')
      from storage.objects o
      join storage.buckets b on b.id = o.bucket_id and b.public
     where o.bucket_id = p_bucket and o.name = p_name and o.blob_id is not null
$function$;
revoke all on function promptd.storage_public_object(text, text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.storage_public_object(text, text) to anon, authenticated, service_role;

-- promptd.storage_public_info(bucket, name) -> the info JSON of an object
-- of a public bucket (GET /storage/v1/object/info/public/...), or null.
create or replace function promptd.storage_public_info(p_bucket text, p_name text)
 returns json
 language sql
 stable
 security definer
 set search_path to ''
as $function$
    select json_build_object('id', o.id, 'name', o.name, 'version', o.version,
               'bucket_id', o.bucket_id, 'size', (o.metadata->>'size')::bigint,
               'content_type', o.metadata->>'mimetype',
               'cache_control', o.metadata->>'cacheControl', 'etag', o.metadata->>'eTag',
               'metadata', coalesce(o.user_metadata, '{}'::jsonb),
               'last_modified', o.updated_at, 'created_at', o.created_at)
      from storage.objects o
      join storage.buckets b on b.id = o.bucket_id and b.public
     where o.bucket_id = p_bucket and o.name = p_name
$function$;
revoke all on function promptd.storage_public_info(text, text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.storage_public_info(text, text) to anon, authenticated, service_role;

-- promptd.storage_signed_object(signed-url id, bucket, name) -> the
-- object a signed URL names, while the URL is neither revoked nor expired
-- and the object is the one it was signed for (same bucket and name; a
-- moved or deleted object's URLs stop working).  Same columns as
-- promptd.storage_public_object.
create or replace function promptd.storage_signed_object(p_id uuid, p_bucket text, p_name text)
 returns table(id uuid, blob_id bigint, size bigint, content_type text, etag text,
               cache_control text, last_modified text)
 language sql
 stable
 security definer
 set search_path to ''
as $function$
    select o.id, o.blob_id, coalesce((o.metadata->>'size')::bigint, 0),
           coalesce(o.metadata->>'mimetype', 'application/octet-stream'),
           coalesce(o.metadata->>'eTag', '""'), o.metadata->>'cacheControl',
           to_char(o.updated_at at time zone 'UTC', 'Dy, DD Mon YYYY HH24:MI:SS "GMT"')
      from promptd.storage_signed_urls s
      join storage.objects o on o.id = s.object_id
     where s.id = p_id and s.revoked_at is null and s.expires_at > now()
       and o.bucket_id = p_bucket and o.name = p_name and o.blob_id is not null
$function$;
revoke all on function promptd.storage_signed_object(uuid, text, text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.storage_signed_object(uuid, text, text) to anon, authenticated, service_role;

-- promptd.storage_sign(bucket, names, expires_in seconds) -> (name,
-- signed-url id, expires_at) for each name the caller can read (RLS on
-- storage.objects, as the caller: security invoker); others are absent.
create or replace function promptd.storage_sign(p_bucket text, p_names text[], p_expires integer)
 returns table(name text, id uuid, expires_at timestamptz)
 language sql
 set search_path to ''
as $function$
    insert into promptd.storage_signed_urls (object_id, created_by, expires_at)
    select o.id, (select auth.uid()), now() + make_interval(secs => p_expires)
      from storage.objects o
     where o.bucket_id = p_bucket and o.name = any (p_names)
    returning (select o2.name from storage.objects o2 where o2.id = object_id), id, expires_at
$function$;
revoke all on function promptd.storage_sign(text, text[], integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.storage_sign(text, text[], integer) to authenticated;

-- promptd.storage_revoke(bucket, name) -> how many signed URLs of the
-- object the caller can read were revoked.
create or replace function promptd.storage_revoke(p_bucket text, p_name text)
 returns bigint
 language sql
 set search_path to ''
as $function$
    with r as (
        update promptd.storage_signed_urls s set revoked_at = now()
         where s.revoked_at is null and s.expires_at > now()
           and s.object_id in (select o.id from storage.objects o
                                where o.bucket_id = p_bucket and o.name = p_name)
        returning 1)
    select count(*) from r
$function$;
revoke all on function promptd.storage_revoke(text, text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.storage_revoke(text, text) to authenticated;

-- promptd.storage_gc(batch, grace seconds) -> {blobs, signed_urls,
-- reservations}: blobs no object names, unused for the grace period (their
-- chunks go with them), skipping any an upload holds locked (it is about
-- to name it: promptd.storage_blob_seal); then expired signed URLs and
-- holds.
create or replace function promptd.storage_gc(p_batch integer, p_grace integer)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    n_blobs bigint;
    n_urls  bigint;
    n_res   bigint;
begin
    with doomed as (
        select b.id from promptd.storage_blobs b
         where b.sha256 is not null
           and b.last_used_at < now() - make_interval(secs => p_grace)
           and not exists (select 1 from storage.objects o where o.blob_id = b.id)
         limit p_batch
           for update skip locked)
    delete from promptd.storage_blobs b using doomed d
     where b.id = d.id
       and not exists (select 1 from storage.objects o where o.blob_id = b.id);
    get diagnostics n_blobs = row_count;
    delete from promptd.storage_signed_urls s
     where s.id in (select x.id from promptd.storage_signed_urls x
                     where x.expires_at < now() - interval '1 day' limit p_batch);
    get diagnostics n_urls = row_count;
    delete from promptd.storage_reservations r
     where r.id in (select x.id from promptd.storage_reservations x
                     where x.expires_at < now() limit p_batch);
    get diagnostics n_res = row_count;
    return jsonb_build_object('blobs', n_blobs, 'signed_urls', n_urls, 'reservations', n_res);
end
$function$;
revoke all on function promptd.storage_gc(integer, integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.storage_gc(integer, integer) to service_role;

-- promptd.quota_count_used(user, resource): how much of a counted
-- resource the user holds now.  Prompts, their versions and links count in
-- every workspace whose plan is the user's (promptd.workspaces_paid_by: the
-- personal one and the team workspaces they pay for); API keys are the
-- user's own.  versions_per_prompt: the most versions of any one prompt;
-- storage_bytes: the sizes of the objects the user owns plus the uploads
-- they hold unsettled (promptd.storage_reserve).
create or replace function promptd.quota_count_used(p_user uuid, p_resource text)
 returns bigint
 language sql
 stable
 security definer
 set search_path to ''
as $function$
    select case p_resource
        when 'prompts' then (select count(*) from public.prompts p
            where p.workspace_id in (select promptd.workspaces_paid_by(p_user)))
        when 'versions_per_prompt' then
            (select coalesce(max(p.version), 0) from public.prompts p
              where p.workspace_id in (select promptd.workspaces_paid_by(p_user)))
        when 'api_keys' then (select count(*) from public.api_keys k where k.user_id = p_user
            and k.revoked_at is null and (k.expires_at is null or k.expires_at > now()))
        when 'shares' then (select count(*) from public.shares s
            where s.workspace_id in (select promptd.workspaces_paid_by(p_user))
              and s.revoked_at is null and (s.expires_at is null or s.expires_at > now()))
        when 'storage_bytes' then
            (select coalesce(sum((o.metadata->>'size')::bigint), 0) from storage.objects o
              where o.owner = p_user)
            + (select coalesce(sum(r.bytes), 0) from promptd.storage_reservations r
                where r.user_id = p_user and r.expires_at > now())
        else 0 end::bigint
$function$;
revoke all on function promptd.quota_count_used(uuid, text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.webhook_next_due answered 0 ("due now") when nothing was due:
-- greatest() ignores a null, so an idle sender claimed in a loop.
-- promptd.webhook_next_due(per_endpoint) -> seconds until the earliest
-- waiting delivery a claim could take is due: of an enabled endpoint with
-- fewer than per_endpoint in flight (0 when one is due now or an event
-- waits to be fanned out); null when there is none.  How long a sender may
-- sleep: a delivery held back by its endpoint's bound is claimed when one
-- in flight ends, not by polling.
create or replace function promptd.webhook_next_due(p_per_endpoint integer)
 returns double precision
 language sql
 stable security definer
 set search_path to ''
as $function$
    select case when exists (select 1 from promptd.webhook_events x where not x.fanned_out) then 0
           else (select greatest(0, extract(epoch from n.due - now()))   -- null: none due
                   from (select min(d.next_attempt_at) as due from promptd.webhook_deliveries d
                           join public.webhook_endpoints e on e.id = d.endpoint_id and e.enabled
                          where d.state = 'pending'
                            and (select count(*) from promptd.webhook_deliveries f
                                  where f.endpoint_id = d.endpoint_id and f.state = 'sending')
                                < p_per_endpoint) n
                  where n.due is not null) end
$function$;
revoke all on function promptd.webhook_next_due(integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.webhook_next_due(integer) to service_role;

-- The objects' policies, which ask promptd.storage_bucket_owned.
drop policy if exists "promptd: users read their own objects" on storage.objects;
create policy "promptd: users read their own objects" on storage.objects
    for select to authenticated using (owner = (select auth.uid()));
drop policy if exists "promptd: users upload into their own buckets" on storage.objects;
create policy "promptd: users upload into their own buckets" on storage.objects
    for insert to authenticated
    with check (owner = (select auth.uid()) and promptd.storage_bucket_owned(bucket_id));
drop policy if exists "promptd: users update their own objects" on storage.objects;
create policy "promptd: users update their own objects" on storage.objects
    for update to authenticated using (owner = (select auth.uid()))
    with check (owner = (select auth.uid()) and promptd.storage_bucket_owned(bucket_id));
drop policy if exists "promptd: users delete their own objects" on storage.objects;
create policy "promptd: users delete their own objects" on storage.objects
    for delete to authenticated using (owner = (select auth.uid()));

insert into promptd.schedules (task, job_type, every) values
    ('storage.gc', 'storage.gc', interval '1 hour');
