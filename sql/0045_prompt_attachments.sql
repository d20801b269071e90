-- 0045_prompt_attachments.sql: files in prompts (issue 16): prompts reference storage objects (public.prompt_attachments, tenancy through the prompt's workspace, gone with the object), share pages show them through signed URLs their links make (promptd.storage_signed_urls.share_id), forks copy them as the forker's objects, the export lists them, account deletion deletes the account's storage.

-- A prompt's attachments: its current set, in order (at most 20: one row
-- per position 0..19, checked at commit so a reorder may pass through
-- duplicates).  Gone with the prompt or the object.
create table public.prompt_attachments (
    prompt_id   uuid not null references public.prompts (id) on delete cascade,
    object_id   uuid not null references storage.objects (id) on delete cascade,
    position    smallint not null check (position between 0 and 19),
    attached_by uuid references auth.users (id) on delete set null,
    created_at  timestamptz not null default now(),
    primary key (prompt_id, object_id),
    constraint prompt_attachments_position unique (prompt_id, position) deferrable initially deferred
);
create index prompt_attachments_object on public.prompt_attachments (object_id);
alter table public.prompt_attachments enable row level security;
alter table public.prompt_attachments force row level security;
revoke all on table public.prompt_attachments from public, anon, authenticated, service_role;
grant select, insert, delete on table public.prompt_attachments to authenticated, service_role;
grant update (position) on table public.prompt_attachments to authenticated, service_role;

-- Signed URLs a share page made name their link: revoked with it, reused
-- by its next renders, gone with it.
alter table promptd.storage_signed_urls add column share_id uuid
    references public.shares (id) on delete cascade;
create index storage_signed_urls_share on promptd.storage_signed_urls (share_id, object_id)
    where share_id is not null;

-- The functions and policies (sql/functions/attachments.sql).
-- promptd.prompt_attachments_list(prompt) -> [{id, bucket, path,
-- content_type, size}] in the prompt's order, [] when none.  No check of
-- the caller: for the definer functions below, which check first.
create or replace function promptd.prompt_attachments_list(p_prompt uuid)
 returns json
 language sql
 stable
 set search_path to ''
as $function$
    select coalesce(json_agg(json_build_object('id', o.id, 'bucket', o.bucket_id, 'path', o.name,
               'content_type', coalesce(o.metadata->>'mimetype', 'application/octet-stream'),
               'size', coalesce((o.metadata->>'size')::bigint, 0))
               order by a.position, a.object_id), '[]'::json)
      from public.prompt_attachments a
      join storage.objects o on o.id = a.object_id
     where a.prompt_id = p_prompt
$function$;
revoke all on function promptd.prompt_attachments_list(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.prompt_attachments_json(prompt) -> the prompt's attachments as
-- promptd.prompt_attachments_list gives them, for a member of its
-- workspace ([] for anyone else).  A definer: members see the metadata of
-- objects attached by others, whose bytes only the objects' owners read.
-- PL/pgSQL for its plan cache (it runs once per row of a prompt list); a
-- prompt without attachments costs one index probe.
create or replace function promptd.prompt_attachments_json(p_prompt uuid)
 returns json
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
begin
    if not exists (select 1 from public.prompt_attachments a where a.prompt_id = p_prompt)
       or not exists (select 1 from public.prompts p where p.id = p_prompt
                         and promptd.workspace_role(p.workspace_id) is not null) then
        return '[]'::json;
    end if;
    return promptd.prompt_attachments_list(p_prompt);
end
$function$;
revoke all on function promptd.prompt_attachments_json(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_attachments_json(uuid) to authenticated, service_role;

-- promptd.prompt_etag(version, attachments) -> a prompt's entity tag
-- (without quotes): v<version>, and when it has attachments a hash of
-- them (v<version>-<12 hex>), so a change of the set, or of an attached
-- object, changes the ETag though the version stays.
create or replace function promptd.prompt_etag(p_version integer, p_attachments json)
 returns text
 language sql
 immutable parallel safe
 set search_path to ''
as $function$
    select 'v' || p_version
        || case when json_array_length(p_attachments) > 0
                then '-' || left(encode(sha256(convert_to(p_attachments::text, 'UTF8')), 'hex'), 12)
                else '' end
$function$;
revoke all on function promptd.prompt_etag(integer, json) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_etag(integer, json) to authenticated, service_role;

-- promptd.prompt_attachments_put(prompt, items) -> [] after replacing the
-- prompt's attachments with items ([{id} | {bucket, path}], in order), or
-- the items refused, changing nothing: [{index, reason: "unreadable" |
-- "duplicate", of: the earlier index}].  Runs as the caller: an item names
-- an object they can read (RLS), or one already attached to the prompt
-- (an editor keeps what a teammate attached); the rows are written under
-- the table's policies (editors and above).
create or replace function promptd.prompt_attachments_put(p_prompt uuid, p_items jsonb)
 returns jsonb
 language plpgsql
 set search_path to ''
as $function$
declare
    v_current json := promptd.prompt_attachments_json(p_prompt);
    v_errors  jsonb := '[]';
    v_ids     uuid[] := '{}';
    i         record;
begin
    for i in
        select x.ord - 1 as n,
               coalesce(
                   (select o.id from storage.objects o where o.id = (x.item->>'id')::uuid),
                   (select o.id from storage.objects o
                     where o.bucket_id = x.item->>'bucket' and o.name = x.item->>'path'),
                   (select (c->>'id')::uuid from json_array_elements(v_current) c
                     where (c->>'id')::uuid = (x.item->>'id')::uuid
                        or (c->>'bucket' = x.item->>'bucket' and c->>'path' = x.item->>'path')
                     limit 1)) as id
          from jsonb_array_elements(p_items) with ordinality x(item, ord)
         order by x.ord
    loop
        if i.id is null then
            v_errors := v_errors || jsonb_build_object('index', i.n, 'reason', 'unreadable');
        elsif i.id = any (v_ids) then
            v_errors := v_errors || jsonb_build_object('index', i.n, 'reason', 'duplicate',
                                                       'of', array_position(v_ids, i.id) - 1);
        end if;
        v_ids := v_ids || i.id;
    end loop;
    if jsonb_array_length(v_errors) > 0 then
        return v_errors;
    end if;
    delete from public.prompt_attachments a
     where a.prompt_id = p_prompt and a.object_id <> all (v_ids);
    update public.prompt_attachments a set position = x.ord - 1
      from unnest(v_ids) with ordinality x(id, ord)
     where a.prompt_id = p_prompt and a.object_id = x.id and a.position <> x.ord - 1;
    insert into public.prompt_attachments (prompt_id, object_id, position, attached_by)
    select p_prompt, x.id, x.ord - 1, auth.uid()
      from unnest(v_ids) with ordinality x(id, ord)
     where not exists (select 1 from public.prompt_attachments a
                        where a.prompt_id = p_prompt and a.object_id = x.id);
    return v_errors;
end
$function$;
revoke all on function promptd.prompt_attachments_put(uuid, jsonb) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_attachments_put(uuid, jsonb) to authenticated, service_role;

-- promptd.storage_attachments_bucket(user) -> the user's private bucket for
-- the attachments forks copy to them: attachments-<user id>, made on first
-- use (with a random suffix when that id was taken by someone else).  For
-- promptd.prompt_attachments_fork.
create or replace function promptd.storage_attachments_bucket(p_user uuid)
 returns text
 language plpgsql
 set search_path to ''
as $function$
declare
    v_id text := 'attachments-' || p_user::text;
begin
    perform pg_advisory_xact_lock(hashtextextended('promptd.attachments_bucket:' || p_user::text, 0));
    select b.id into v_id from storage.buckets b
     where b.owner = p_user and left(b.id, 48) = 'attachments-' || p_user::text
     order by b.created_at, b.id limit 1;
    if v_id is not null then
        return v_id;
    end if;
    v_id := 'attachments-' || p_user::text;
    insert into storage.buckets (id, name, owner, owner_id, public)
    values (v_id, v_id, p_user, p_user::text, false) on conflict do nothing;
    if not found then
        v_id := v_id || '-' || left(replace(gen_random_uuid()::text, '-', ''), 12);
        insert into storage.buckets (id, name, owner, owner_id, public)
        values (v_id, v_id, p_user, p_user::text, false);
    end if;
    return v_id;
end
$function$;
revoke all on function promptd.storage_attachments_bucket(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.prompt_attachments_fork(original, fork): the fork's attachments.
-- Each object attached to the original is copied as storage's copy does:
-- a new object row owned by the forker (auth.uid()), in their attachments
-- bucket, named <fork id>/<n>-<file name>, naming the same blob (no bytes
-- are copied), counted against the forker's storage quota (PDQ09 when it
-- would pass it, as an upload).  For promptd.share_fork.
create or replace function promptd.prompt_attachments_fork(p_from uuid, p_to uuid)
 returns void
 language plpgsql
 set search_path to ''
as $function$
declare
    v_uid    uuid := auth.uid();
    v_bytes  bigint;
    v_hold   uuid;
    v_bucket text;
begin
    select sum(coalesce((o.metadata->>'size')::bigint, 0)) into v_bytes
      from public.prompt_attachments a
      join storage.objects o on o.id = a.object_id and o.blob_id is not null
     where a.prompt_id = p_from;
    if v_bytes is null then
        return;
    end if;
    v_hold := promptd.storage_reserve(v_bytes);
    v_bucket := promptd.storage_attachments_bucket(v_uid);
    with src as (
        select a.position, o.metadata, o.user_metadata, o.blob_id,
               p_to::text || '/' || row_number() over (order by a.position, a.object_id)
                   || '-' || left(regexp_replace(o.name, '^.*/', ''), 200) as copy_name
          from public.prompt_attachments a
          join storage.objects o on o.id = a.object_id and o.blob_id is not null
         where a.prompt_id = p_from),
    made as (
        insert into storage.objects (bucket_id, name, owner, owner_id, metadata, user_metadata,
                                     blob_id, version)
        select v_bucket, s.copy_name, v_uid, v_uid::text,
               s.metadata || jsonb_build_object('lastModified', now()), s.user_metadata,
               s.blob_id, gen_random_uuid()::text
          from src s
        returning id, name)
    insert into public.prompt_attachments (prompt_id, object_id, position, attached_by)
    select p_to, m.id, s.position, v_uid from made m join src s on s.copy_name = m.name;
    perform promptd.storage_settle(v_hold);
end
$function$;
revoke all on function promptd.prompt_attachments_fork(uuid, uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.share_attachment_urls(token hash, unlocked, seconds) -> the
-- attachments a share link's page shows, each with the signed download URL
-- record it links to (id, expiry in epoch seconds): a live one this link
-- made before that still has half its life (capped at the link's expiry)
-- is used again, else one is made for seconds, never past the link's
-- expiry.  The record is the object owner's (their revoke in the storage
-- API ends it too) and names the link (promptd.shares_after_update_urls).
-- No row for a link that is not live, or password-protected and not
-- unlocked (the worker checked the visitor's cookie).  The worker's only;
-- it makes the URLs' tokens.
create or replace function promptd.share_attachment_urls(p_hash text, p_unlocked boolean, p_seconds integer)
 returns table(id uuid, bucket text, path text, content_type text, size bigint, signed_id uuid,
               expires_at bigint)
 language sql
 security definer
 set search_path to ''
as $function$
    with l as (
        select x.share_id, x.prompt_id,
               least(now() + make_interval(secs => p_seconds), x.expires_at) as until
          from promptd.share_lookup(p_hash, p_unlocked) x
         where x.state = 'ok' and x.prompt_id is not null),
    att as (
        select a.position, o.id, o.bucket_id, o.name, o.owner, l.share_id, l.until,
               coalesce(o.metadata->>'mimetype', 'application/octet-stream') as ct,
               coalesce((o.metadata->>'size')::bigint, 0) as sz
          from l
          join public.prompt_attachments a on a.prompt_id = l.prompt_id
          join storage.objects o on o.id = a.object_id and o.blob_id is not null),
    kept as (
        select distinct on (u.object_id) u.object_id, u.id, u.expires_at
          from att x
          join promptd.storage_signed_urls u on u.object_id = x.id and u.share_id = x.share_id
         where u.revoked_at is null
           and u.expires_at >= least(now() + make_interval(secs => p_seconds / 2), x.until)
         order by u.object_id, u.expires_at desc),
    fresh as (
        insert into promptd.storage_signed_urls (object_id, created_by, expires_at, share_id)
        select x.id, x.owner, x.until, x.share_id from att x
         where not exists (select 1 from kept k where k.object_id = x.id)
        returning object_id, id, expires_at)
    select x.id, x.bucket_id, x.name, x.ct, x.sz, coalesce(k.id, f.id),
           floor(extract(epoch from coalesce(k.expires_at, f.expires_at)))::bigint
      from att x
      left join kept k on k.object_id = x.id
      left join fresh f on f.object_id = x.id
     order by x.position, x.id
$function$;
revoke all on function promptd.share_attachment_urls(text, boolean, integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.share_attachment_urls(text, boolean, integer) to promptd_app;

-- AFTER UPDATE on public.shares: a link revoked (its prompt deleted too),
-- given a password or a password changed, or set to expire sooner ends
-- the signed URLs its page made (those outliving the new expiry), so its
-- images stop with it.
create or replace function promptd.shares_after_update_urls()
 returns trigger
 language plpgsql
 security definer
 set search_path to ''
as $function$
begin
    update promptd.storage_signed_urls u set revoked_at = now()
     where u.share_id = new.id and u.revoked_at is null
       and (new.revoked_at is not null
            or new.password_hash is distinct from old.password_hash
            or (new.expires_at is not null and u.expires_at > new.expires_at));
    return null;
end
$function$;
revoke all on function promptd.shares_after_update_urls() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- AFTER DELETE on public.prompt_attachments: an object no longer attached
-- is no longer shown by the prompt's links: the signed URLs their pages
-- made for it end.
create or replace function promptd.prompt_attachments_after_delete()
 returns trigger
 language plpgsql
 security definer
 set search_path to ''
as $function$
begin
    update promptd.storage_signed_urls u set revoked_at = now()
     where u.object_id = old.object_id and u.revoked_at is null
       and u.share_id in (select s.id from public.shares s where s.prompt_id = old.prompt_id);
    return null;
end
$function$;
revoke all on function promptd.prompt_attachments_after_delete() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.account_export_attachments(seconds) -> the attachments of the
-- caller's prompts (those promptd.account_export lists: written by the
-- caller, in a workspace they are still a member of), in order, each
-- object the caller owns with a signed download URL record for seconds
-- (none when 0); the worker makes the URLs' tokens.
create or replace function promptd.account_export_attachments(p_seconds integer)
 returns table(prompt_id uuid, id uuid, bucket text, path text, content_type text, size bigint,
               signed_id uuid, expires_at bigint)
 language sql
 security definer
 set search_path to ''
as $function$
    with att as (
        select a.prompt_id, a.position, o.id, o.bucket_id, o.name, o.owner, o.blob_id,
               coalesce(o.metadata->>'mimetype', 'application/octet-stream') as ct,
               coalesce((o.metadata->>'size')::bigint, 0) as sz
          from public.prompts p
          join public.prompt_attachments a on a.prompt_id = p.id
          join storage.objects o on o.id = a.object_id
         where p.user_id = auth.uid() and promptd.workspace_role(p.workspace_id) is not null),
    signed as (
        insert into promptd.storage_signed_urls (object_id, created_by, expires_at)
        select distinct x.id, auth.uid(), now() + make_interval(secs => p_seconds)
          from att x
         where p_seconds > 0 and x.owner = auth.uid() and x.blob_id is not null
        returning object_id, id, expires_at)
    select x.prompt_id, x.id, x.bucket_id, x.name, x.ct, x.sz, s.id,
           floor(extract(epoch from s.expires_at))::bigint
      from att x
      left join signed s on s.object_id = x.id
     order by x.prompt_id, x.position, x.id
$function$;
revoke all on function promptd.account_export_attachments(integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.account_export_attachments(integer) to authenticated;

-- Row level security on public.prompt_attachments.
drop policy if exists prompt_attachments_delete on public.prompt_attachments;
create policy prompt_attachments_delete on public.prompt_attachments for delete to authenticated
    using ((EXISTS ( SELECT 1
   FROM prompts p
  WHERE ((p.id = prompt_attachments.prompt_id) AND (promptd.workspace_role_rank(promptd.workspace_role(p.workspace_id)) >= 2)))));

drop policy if exists prompt_attachments_insert on public.prompt_attachments;
create policy prompt_attachments_insert on public.prompt_attachments for insert to authenticated
    with check (((attached_by = ( SELECT auth.uid() AS uid)) AND (EXISTS ( SELECT 1
   FROM prompts p
  WHERE ((p.id = prompt_attachments.prompt_id) AND (promptd.workspace_role_rank(promptd.workspace_role(p.workspace_id)) >= 2)))) AND (EXISTS ( SELECT 1
   FROM storage.objects o
  WHERE (o.id = prompt_attachments.object_id)))));

drop policy if exists prompt_attachments_select on public.prompt_attachments;
create policy prompt_attachments_select on public.prompt_attachments for select to authenticated
    using ((EXISTS ( SELECT 1
   FROM prompts p
  WHERE (p.id = prompt_attachments.prompt_id))));

drop policy if exists prompt_attachments_update on public.prompt_attachments;
create policy prompt_attachments_update on public.prompt_attachments for update to authenticated
    using ((EXISTS ( SELECT 1
   FROM prompts p
  WHERE ((p.id = prompt_attachments.prompt_id) AND (promptd.workspace_role_rank(promptd.workspace_role(p.workspace_id)) >= 2)))))
    with check ((EXISTS ( SELECT 1
   FROM prompts p
  WHERE ((p.id = prompt_attachments.prompt_id) AND (promptd.workspace_role_rank(promptd.workspace_role(p.workspace_id)) >= 2)))));

-- Forks copy attachments (sql/functions/shares.sql).
-- Fork (the signed-in caller, as authenticated): copy the shared state
-- into the caller's prompts with forked_from, and its attachments as the
-- caller's own objects naming the same blobs
-- (promptd.prompt_attachments_fork), count the fork.  state as in
-- share_lookup, or 'forbidden' when the link does not allow forks, or
-- 'locked' when it has a password and p_proof is not its hash (the worker
-- fetches it with share_unlock_proof() only after checking the visitor's
-- signed unlock cookie; callers cannot read the hash themselves).
CREATE OR REPLACE FUNCTION promptd.share_fork(p_hash text, p_proof text)
 RETURNS TABLE(state text, prompt jsonb)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    l record;
    n public.prompts;
    uid uuid := auth.uid();
    unlocked boolean;
begin
    unlocked := p_proof is not null and exists (
        select 1 from public.shares s where s.token_hash = p_hash and s.password_hash = p_proof);
    select * into l from promptd.share_lookup(p_hash, unlocked);
    state := l.state;
    if uid is null then
        state := 'missing';
    elsif l.state = 'ok' and not l.allow_fork then
        state := 'forbidden';
    elsif l.state = 'ok' and l.has_password and not unlocked then
        state := 'locked';
    end if;
    if state <> 'ok' then
        return next;
        return;
    end if;
    insert into public.prompts (user_id, title, content, tags, forked_from)
    values (uid, l.title, l.content, l.tags, l.prompt_id)
    returning * into n;
    perform promptd.prompt_attachments_fork(l.prompt_id, n.id);
    update public.shares s set forks = s.forks + 1 where s.id = l.share_id;
    prompt := jsonb_build_object('id', n.id, 'title', n.title, 'content', n.content,
        'tags', n.tags, 'metadata', n.metadata, 'folder', n.folder,
        'variables', n.variables, 'version', n.version, 'forked_from', n.forked_from,
        'attachments', promptd.prompt_attachments_list(n.id),
        'created_at', n.created_at, 'updated_at', n.updated_at);
    return next;
end
$function$;
revoke all on function promptd.share_fork(text,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.share_fork(text,text) to authenticated;

-- Account deletion deletes the account's storage (sql/functions/account.sql).
-- promptd.delete_account(): delete the caller and everything they own (the
-- auth.users row cascades; their storage objects and buckets, which name
-- them without a foreign key, are deleted here, with every object in their
-- buckets: the blobs left unnamed are storage.gc's, and the attachments of
-- those objects go with them); their audit pseudonym is forgotten by the
-- audit trigger, so their audit rows stay but are no longer linkable.
-- Team workspaces keep what the caller wrote there (prompts and links pass
-- to the workspace's longest-standing other owner); a team workspace with
-- no other member goes with the caller; the last owner of one with other
-- members is refused first (delete_account_check).
CREATE OR REPLACE FUNCTION promptd.delete_account()
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_uid uuid := auth.uid();
begin
    if v_uid is null then
        return false;
    end if;
    perform promptd.delete_account_check();
    delete from public.workspaces w
     where w.personal_of is null
       and exists (select 1 from public.workspace_members m where m.workspace_id = w.id and m.user_id = v_uid)
       and not exists (select 1 from public.workspace_members m where m.workspace_id = w.id and m.user_id <> v_uid);
    update public.prompts p set user_id = (select m.user_id from public.workspace_members m
                                            where m.workspace_id = p.workspace_id and m.role = 'owner'
                                              and m.user_id <> v_uid order by m.created_at, m.user_id limit 1)
     where p.user_id = v_uid and p.workspace_id <> promptd.personal_workspace(v_uid);
    update public.shares s set user_id = (select m.user_id from public.workspace_members m
                                           where m.workspace_id = s.workspace_id and m.role = 'owner'
                                             and m.user_id <> v_uid order by m.created_at, m.user_id limit 1)
     where s.user_id = v_uid and s.workspace_id <> promptd.personal_workspace(v_uid);
    delete from storage.objects o
     where o.owner = v_uid
        or o.bucket_id in (select b.id from storage.buckets b where b.owner = v_uid);
    delete from storage.buckets b where b.owner = v_uid;
    delete from promptd.storage_reservations r where r.user_id = v_uid;
    insert into promptd.erased_users (id) values (v_uid) on conflict do nothing;
    delete from public.profiles where id = v_uid;
    delete from auth.users where id = v_uid;
    return true;
end
$function$;
revoke all on function promptd.delete_account() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.delete_account() to service_role, promptd_app;

create trigger prompt_attachments_after_delete
    after delete on public.prompt_attachments
    for each row execute function promptd.prompt_attachments_after_delete();
create trigger shares_after_update_urls
    after update of revoked_at, expires_at, password_hash, prompt_id on public.shares
    for each row execute function promptd.shares_after_update_urls();
