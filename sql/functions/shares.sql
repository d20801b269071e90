-- shares.sql: shared prompts: lookup, passwords, forks, gallery, view counting; policies.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "promptctl").

-- BEFORE UPDATE: updated_at; a link whose prompt is gone (the FK set
-- prompt_id NULL) is revoked.  A revocation is never undone.
CREATE OR REPLACE FUNCTION promptd.shares_before_update()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
    new.updated_at := now();
    if new.prompt_id is null and old.prompt_id is not null then
        new.revoked_at := coalesce(old.revoked_at, now());
    end if;
    if old.revoked_at is not null then
        new.revoked_at := old.revoked_at;
    end if;
    return new;
end
$function$;
revoke all on function promptd.shares_before_update() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- BEFORE INSERT: a link belongs to its prompt's workspace.
CREATE OR REPLACE FUNCTION promptd.shares_before_insert()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    new.workspace_id := (select p.workspace_id from public.prompts p where p.id = new.prompt_id);
    return new;
end
$function$;
revoke all on function promptd.shares_before_insert() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- What a visitor of a link may see, by token hash.  state: 'ok', 'gone'
-- (revoked, expired, prompt deleted) or 'missing' (no such link: one row
-- all the same, from the same query).  The prompt's content comes only
-- when the link has no password (p_unlocked: see share_resolve_unlocked).
CREATE OR REPLACE FUNCTION promptd.share_lookup(p_hash text, p_unlocked boolean)
 RETURNS TABLE(state text, share_id uuid, has_password boolean, allow_fork boolean, is_public boolean, expires_at timestamp with time zone, title text, content text, tags text[], author text, version integer, updated_at timestamp with time zone, prompt_id uuid)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select case when s.id is null then 'missing'
                when s.revoked_at is not null or s.prompt_id is null
                     or (s.expires_at is not null and s.expires_at <= now())
                     or p.id is null then 'gone'
                else 'ok' end,
           s.id, s.password_hash is not null, s.allow_fork, s.public, s.expires_at,
           case when s.password_hash is null or p_unlocked then coalesce(v.title, p.title) end,
           case when s.password_hash is null or p_unlocked then coalesce(v.content, p.content) end,
           case when s.password_hash is null or p_unlocked then coalesce(v.tags, p.tags) end,
           case when s.password_hash is null or p_unlocked
                then coalesce(nullif(btrim(pr.display_name), ''), 'a promptd user') end,
           case when s.password_hash is null or p_unlocked then coalesce(v.version, p.version) end,
           case when s.password_hash is null or p_unlocked then coalesce(v.created_at, p.updated_at) end,
           case when s.password_hash is null or p_unlocked then p.id end
    from (select p_hash as h) q
    left join public.shares s on s.token_hash = q.h
    left join public.prompts p on p.id = s.prompt_id
    left join public.prompt_versions v
           on v.prompt_id = s.prompt_id and v.version = s.pin_version
    left join public.profiles pr on pr.id = s.user_id
$function$;
revoke all on function promptd.share_lookup(text,boolean) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Visitors (anon): never the content of a password-protected link.
CREATE OR REPLACE FUNCTION promptd.share_resolve(p_hash text)
 RETURNS TABLE(state text, share_id uuid, has_password boolean, allow_fork boolean, is_public boolean, expires_at timestamp with time zone, title text, content text, tags text[], author text, version integer, updated_at timestamp with time zone, prompt_id uuid)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$ select * from promptd.share_lookup(p_hash, false) $function$;
revoke all on function promptd.share_resolve(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.share_resolve(text) to anon, authenticated, promptd_app;

-- The worker itself (it verified the visitor's signed unlock cookie).
CREATE OR REPLACE FUNCTION promptd.share_resolve_unlocked(p_hash text)
 RETURNS TABLE(state text, share_id uuid, has_password boolean, allow_fork boolean, is_public boolean, expires_at timestamp with time zone, title text, content text, tags text[], author text, version integer, updated_at timestamp with time zone, prompt_id uuid)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$ select * from promptd.share_lookup(p_hash, true) $function$;
revoke all on function promptd.share_resolve_unlocked(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.share_resolve_unlocked(text) to promptd_app;

-- Password form, step 1 (worker only): refuse while the link or the
-- address is locked, else count this attempt as a failure (taken back by
-- step 2) and return the argon2id hash.  A link locks after 10 failures,
-- an address after 20, for 30 s doubling per further failure, at most an
-- hour; counters restart after an hour without failures.
CREATE OR REPLACE FUNCTION promptd.share_password_begin(p_hash text, p_address text)
 RETURNS TABLE(state text, locked_seconds integer, password_hash text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    s record;
begin
    select l.state, l.share_id into s from promptd.share_lookup(p_hash, false) l;
    state := s.state;
    locked_seconds := 0;
    if s.state <> 'ok' then
        return next;
        return;
    end if;
    locked_seconds := promptd.throttle_attempt(array['share_link', 'share_address'],
                                               array[s.share_id::text, p_address],
                                               array[10, 20]);
    if locked_seconds = 0 then
        select sh.password_hash into password_hash from public.shares sh where sh.id = s.share_id;
    end if;
    return next;
end
$function$;
revoke all on function promptd.share_password_begin(text,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.share_password_begin(text,text) to promptd_app;

-- Password form, step 2 (verified): clear the link's counter, take this
-- attempt back from the address's.
CREATE OR REPLACE FUNCTION promptd.share_password_ok(p_hash text, p_address text)
 RETURNS void
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select promptd.throttle_success(
        'share_link', (select s.id::text from public.shares s where s.token_hash = p_hash),
        'share_address', p_address, 20);
$function$;
revoke all on function promptd.share_password_ok(text,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.share_password_ok(text,text) to promptd_app;

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

-- The password hash of a link, for the worker only (proof for share_fork).
CREATE OR REPLACE FUNCTION promptd.share_unlock_proof(p_hash text)
 RETURNS text
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$ select s.password_hash from public.shares s where s.token_hash = p_hash $function$;
revoke all on function promptd.share_unlock_proof(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.share_unlock_proof(text) to promptd_app;

-- The public gallery (anon): live public links, newest first or by views,
-- filtered by full-text query and tag; offset pagination (bounded by the
-- worker).  token_sealed lets the worker build each link's URL.
CREATE OR REPLACE FUNCTION promptd.share_gallery(p_q text, p_tag text, p_popular boolean, p_limit integer, p_offset integer)
 RETURNS TABLE(share_id uuid, token_sealed text, title text, excerpt text, tags text[], author text, views bigint, forks bigint, created_at timestamp with time zone)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select s.id, s.token_sealed, coalesce(v.title, p.title),
           left(coalesce(v.content, p.content), 200), coalesce(v.tags, p.tags),
           coalesce(nullif(btrim(pr.display_name), ''), 'a promptd user'),
           s.views, s.forks, s.created_at
    from public.shares s
    join public.prompts p on p.id = s.prompt_id
    left join public.prompt_versions v
           on v.prompt_id = s.prompt_id and v.version = s.pin_version
    left join public.profiles pr on pr.id = s.user_id
    where s.public and s.revoked_at is null and s.password_hash is null
      and (s.expires_at is null or s.expires_at > now())
      and (p_q is null or p.search @@ websearch_to_tsquery('english', p_q))
      and (p_tag is null or coalesce(v.tags, p.tags) @> array[p_tag])
    order by case when p_popular then s.views end desc nulls last,
             s.created_at desc, s.id desc
    limit p_limit offset p_offset
$function$;
revoke all on function promptd.share_gallery(text,text,boolean,integer,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.share_gallery(text,text,boolean,integer,integer) to anon, authenticated, promptd_app;

-- The salt of a UTC day: p_candidate (32 random bytes from the caller)
-- becomes it unless the day has one; salts older than yesterday are
-- deleted, so yesterday's viewer hashes cannot be recomputed for long.
CREATE OR REPLACE FUNCTION promptd.share_salt(p_day date, p_candidate bytea)
 RETURNS bytea
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    s bytea;
begin
    delete from promptd.share_salts t where t.day < current_date - 1;
    delete from promptd.share_viewers v where v.day < current_date - 1;
    if p_day < current_date - 1 then
        return null;
    end if;
    insert into promptd.share_salts (day, salt) values (p_day, p_candidate)
    on conflict (day) do nothing;
    select t.salt into s from promptd.share_salts t where t.day = p_day;
    return s;
end
$function$;
revoke all on function promptd.share_salt(date,bytea) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.share_salt(date,bytea) to service_role;

-- The ingestion cursor: (inode, pos) of the view log already counted.
CREATE OR REPLACE FUNCTION promptd.share_view_cursor_get(OUT inode bigint, OUT pos bigint)
 RETURNS record
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$ select c.inode, c.pos from promptd.share_view_cursor c where c.id = 1 $function$;
revoke all on function promptd.share_view_cursor_get() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.share_view_cursor_get() to service_role;

-- Count one batch of view-log lines and move the cursor, atomically and
-- only when the cursor is still where the caller read it ((p_inode,
-- p_pos)); false when another daemon moved it, or when one of the batch's
-- shares stayed locked for 100 ms (nothing counted; the batch is read
-- again at the next run).  The batch's shares are locked first, in id
-- order, and nothing is waited for after that: a transaction that holds
-- one of them (an account's deletion moves and deletes its shares, and
-- then their counts) cannot be waiting for this one, so neither fails on
-- a deadlock; the 100 ms is under deadlock_timeout's default of 1 s, so
-- this function gives way first.
-- p_rows: [{"s": share id, "d": "YYYY-MM-DD", "v": viewer hash or null,
--           "h": referrer host or null, "t": epoch seconds}].
CREATE OR REPLACE FUNCTION promptd.share_views_ingest(p_inode bigint, p_pos bigint, p_new_inode bigint, p_new_pos bigint, p_rows jsonb)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_lock_timeout text := current_setting('lock_timeout');
begin
    perform set_config('lock_timeout', '100ms', true);
    begin
        perform 1 from public.shares s
         where s.id in (select (r->>'s')::uuid from jsonb_array_elements(p_rows) r)
         order by s.id for no key update;
    exception when lock_not_available then
        perform set_config('lock_timeout', v_lock_timeout, true);
        return false;
    end;
    perform set_config('lock_timeout', v_lock_timeout, true);
    update promptd.share_view_cursor c set inode = p_new_inode, pos = p_new_pos
     where c.id = 1 and c.inode is not distinct from p_inode and c.pos = p_pos;
    if not found then
        return false;
    end if;
    create temporary table if not exists pg_temp.share_ingest_rows (
        share_id uuid, day date, viewer text, host text, at timestamptz
    ) on commit drop;
    truncate pg_temp.share_ingest_rows;
    insert into pg_temp.share_ingest_rows
    select (r->>'s')::uuid, (r->>'d')::date, r->>'v', left(r->>'h', 255),
           to_timestamp((r->>'t')::double precision)
      from jsonb_array_elements(p_rows) r
      join public.shares s on s.id = (r->>'s')::uuid;
    -- one share.viewed analytics event per view, at its time, with the
    -- viewer's hash (analytics.sql)
    perform promptd.analytics_record('share.viewed', null,
                jsonb_strip_nulls(jsonb_build_object('share_id', x.share_id,
                                                     'referrer_host', nullif(x.host, ''))),
                x.viewer, x.at)
       from pg_temp.share_ingest_rows x;

    with fresh as (
        insert into promptd.share_viewers (share_id, day, viewer)
        select distinct x.share_id, x.day, x.viewer from pg_temp.share_ingest_rows x
         where x.viewer is not null
        on conflict do nothing
        returning share_id, day
    ), uniq as (
        select f.share_id, f.day, count(*) as n from fresh f group by 1, 2
    ), seen as (
        select x.share_id, x.day, count(*) as n from pg_temp.share_ingest_rows x group by 1, 2
    )
    insert into public.share_daily as d (share_id, day, views, uniques)
    select s.share_id, s.day, s.n, coalesce(u.n, 0)
      from seen s left join uniq u using (share_id, day)
    on conflict (share_id, day) do update
       set views = d.views + excluded.views, uniques = d.uniques + excluded.uniques;

    insert into public.share_referrers as r (share_id, day, host, views)
    select x.share_id, x.day, x.host, count(*) from pg_temp.share_ingest_rows x
     where x.host is not null and x.host <> ''
     group by 1, 2, 3
    on conflict (share_id, day, host) do update set views = r.views + excluded.views;

    update public.shares s set
        views = s.views + a.n,
        unique_viewers = s.unique_viewers + a.u,
        last_viewed_at = greatest(s.last_viewed_at, a.last)
    from (select x.share_id, count(*) as n, max(x.at) as last,
                 0::bigint as u
            from pg_temp.share_ingest_rows x group by 1) a
    where s.id = a.share_id;
    -- unique viewers: the per-day uniques (the salt rotates daily, so one
    -- person on two days counts twice, by design)
    update public.shares s set unique_viewers = t.u
    from (select d.share_id, sum(d.uniques) as u from public.share_daily d
           where d.share_id in (select distinct x.share_id from pg_temp.share_ingest_rows x)
           group by 1) t
    where s.id = t.share_id;
    return true;
end
$function$;
revoke all on function promptd.share_views_ingest(bigint,bigint,bigint,bigint,jsonb) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.share_views_ingest(bigint,bigint,bigint,bigint,jsonb) to service_role;

-- True when p_hash is an argon2id PHC string with this server's parameters.
CREATE OR REPLACE FUNCTION promptd.share_password_hash_ok(p_hash text)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
    select p_hash ~ '^\$argon2id\$v=19\$m=65536,t=3,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$'
$function$;
revoke all on function promptd.share_password_hash_ok(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Set (p_hash) or clear (NULL) the password of the caller's link p_share.
-- False when the caller owns no such live link; 22023 for a hash with
-- other parameters than the server's.
CREATE OR REPLACE FUNCTION promptd.share_set_password(p_share uuid, p_hash text)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    if p_hash is not null and not promptd.share_password_hash_ok(p_hash) then
        raise exception 'a share password hash must use the server''s argon2id parameters'
            using errcode = '22023';
    end if;
    update public.shares s set password_hash = p_hash
     where s.id = p_share and s.revoked_at is null
       and promptd.workspace_role_rank(promptd.workspace_role(s.workspace_id)) >= 2;
    return found;
end
$function$;
revoke all on function promptd.share_set_password(uuid,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.share_set_password(uuid,text) to authenticated;

-- Row level security on public.share_daily.
drop policy if exists share_daily_select_own on public.share_daily;
create policy share_daily_select_own on public.share_daily for select to authenticated
    using ((EXISTS ( SELECT 1
   FROM shares s
  WHERE (s.id = share_daily.share_id))));

-- Row level security on public.share_referrers.
drop policy if exists share_referrers_select_own on public.share_referrers;
create policy share_referrers_select_own on public.share_referrers for select to authenticated
    using ((EXISTS ( SELECT 1
   FROM shares s
  WHERE (s.id = share_referrers.share_id))));

-- Row level security on public.shares.
drop policy if exists shares_insert_own on public.shares;
create policy shares_insert_own on public.shares for insert to authenticated
    with check (((user_id = ( SELECT auth.uid() AS uid)) AND (promptd.workspace_role_rank(promptd.workspace_role(workspace_id)) >= 2) AND (EXISTS ( SELECT 1
   FROM prompts p
  WHERE ((p.id = shares.prompt_id) AND (p.workspace_id = shares.workspace_id))))));

drop policy if exists shares_select_own on public.shares;
create policy shares_select_own on public.shares for select to authenticated
    using ((promptd.workspace_role(workspace_id) IS NOT NULL));

drop policy if exists shares_update_own on public.shares;
create policy shares_update_own on public.shares for update to authenticated
    using ((promptd.workspace_role_rank(promptd.workspace_role(workspace_id)) >= 2))
    with check ((promptd.workspace_role_rank(promptd.workspace_role(workspace_id)) >= 2));
