-- analytics.sql: product analytics: event ingestion (client batches, server events from triggers), monthly partitions ahead and retention, incremental rollups, the account export of one's events.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "Analytics").

-- promptd.analytics_visitor(addr, user agent, candidate salt) -> the
-- visitor hash: hex SHA-256(salt, addr, NUL, agent) under today's (UTC)
-- share salt, the formula and the salt of the share views job
-- (src/share/views.c), so a visitor is one hash per day across share
-- views and events and cannot be followed from one day to the next.  The
-- address itself is never stored.  NULL without an address.
CREATE OR REPLACE FUNCTION promptd.analytics_visitor(p_addr text, p_agent text, p_candidate bytea)
 RETURNS text
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_day date := (now() at time zone 'utc')::date;
    v_salt bytea;
begin
    if p_addr is null or p_addr = '' then
        return null;
    end if;
    select s.salt into v_salt from promptd.share_salts s where s.day = v_day;
    if v_salt is null then
        if p_candidate is null or length(p_candidate) <> 32 then
            return null;
        end if;
        v_salt := promptd.share_salt(v_day, p_candidate);
    end if;
    return encode(sha256(v_salt || convert_to(p_addr, 'UTF8') || '\x00'::bytea
                         || convert_to(coalesce(p_agent, ''), 'UTF8')), 'hex');
end
$function$;
revoke all on function promptd.analytics_visitor(text,text,bytea) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.analytics_ingest(events, addr, agent, country, candidate salt)
-- -> how many rows were stored: one client batch, validated by the worker
-- (cgi-bin/analytics.c; the table's checks repeat the limits), as
-- [{e: event, p: properties, t: ISO-8601 time or null, s: session_id,
-- a: anonymous_id}], for the caller (auth.uid(), NULL when anonymous), in
-- one statement: the raw rows and their rollup queue entries.
CREATE OR REPLACE FUNCTION promptd.analytics_ingest(p_events jsonb, p_addr text, p_agent text, p_country text, p_candidate bytea)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_visitor text := promptd.analytics_visitor(p_addr, p_agent, p_candidate);
    v_n integer;
begin
    with ev as (
        insert into promptd.analytics_events
            (created_at, user_id, source, event_type, event_data, session_id, anonymous_id,
             visitor_hash, country)
        select coalesce((e->>'t')::timestamptz, now()), auth.uid(), 'client', e->>'e',
               coalesce(e->'p', '{}'::jsonb), e->>'s', e->>'a', v_visitor, p_country
          from jsonb_array_elements(p_events) e
        returning created_at, user_id, source, event_type
    ), q as (
        insert into promptd.analytics_pending (created_at, user_id, source, event_type)
        select ev.created_at, ev.user_id, ev.source, ev.event_type from ev
        returning 1
    )
    select count(*) into v_n from q;
    return v_n;
end
$function$;
revoke all on function promptd.analytics_ingest(jsonb,text,text,text,bytea) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.analytics_ingest(jsonb,text,text,text,bytea) to anon, authenticated;

-- promptd.analytics_record(event, user, properties, visitor hash, time) ->
-- void: one server event, in the caller's transaction (the triggers
-- below).  An enrichment's provider, model, tokens, latency and cost go to
-- the rollup queue's measures as well.
CREATE OR REPLACE FUNCTION promptd.analytics_record(p_event text, p_user uuid, p_data jsonb, p_visitor text, p_at timestamptz)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_at timestamptz := coalesce(p_at, now());
begin
    insert into promptd.analytics_events (created_at, user_id, source, event_type, event_data, visitor_hash)
    values (v_at, p_user, 'server', p_event, p_data, p_visitor);
    insert into promptd.analytics_pending
        (created_at, user_id, source, event_type, provider, model, tokens_in, tokens_out, latency_ms, cost_usd)
    values (v_at, p_user, 'server', p_event, p_data->>'provider', p_data->>'model',
            (p_data->>'tokens_in')::bigint, (p_data->>'tokens_out')::bigint,
            (p_data->>'latency_ms')::bigint, (p_data->>'cost_usd')::numeric);
end
$function$;
revoke all on function promptd.analytics_record(text,uuid,jsonb,text,timestamptz) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Trigger (auth.users, AFTER INSERT): user.signed_up, however the user
-- came (built-in sign-up, SSO, promptctl, a first token from another
-- Supabase Auth through promptd.ensure_profile).
CREATE OR REPLACE FUNCTION promptd.analytics_on_user()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    perform promptd.analytics_record('user.signed_up', new.id, '{}'::jsonb, null, null);
    return null;
end
$function$;
revoke all on function promptd.analytics_on_user() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Trigger (public.prompts, AFTER INSERT): prompt.created (also by a fork
-- or an import), for the prompt's author.
CREATE OR REPLACE FUNCTION promptd.analytics_on_prompt()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    perform promptd.analytics_record('prompt.created', new.user_id,
        jsonb_build_object('prompt_id', new.id, 'workspace_id', new.workspace_id), null, null);
    return null;
end
$function$;
revoke all on function promptd.analytics_on_prompt() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Trigger (public.enrichments, AFTER INSERT OR UPDATE OF status):
-- enrichment.completed / enrichment.failed once, when an enrichment reaches
-- its end, with its provider, model, latency, tokens and cost.
CREATE OR REPLACE FUNCTION promptd.analytics_on_enrichment()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    if new.status not in ('done', 'failed')
       or (tg_op = 'UPDATE' and old.status in ('done', 'failed')) then
        return null;
    end if;
    perform promptd.analytics_record(
        case when new.status = 'done' and new.outcome is distinct from 'failed'
             then 'enrichment.completed' else 'enrichment.failed' end,
        new.user_id,
        jsonb_strip_nulls(jsonb_build_object('enrichment_id', new.id, 'mode', new.mode,
            'provider', new.provider, 'model', new.model, 'latency_ms', new.latency_ms,
            'tokens_in', new.tokens_in, 'tokens_out', new.tokens_out, 'cost_usd', new.cost_usd,
            'cached', new.cached, 'async', new.async)),
        null, null);
    return null;
end
$function$;
revoke all on function promptd.analytics_on_enrichment() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Trigger (public.shares, AFTER UPDATE OF forks): share.forked per fork,
-- for the user who forked.  share.viewed is recorded per view by
-- promptd.share_views_ingest (shares.sql), with the viewer's hash.
CREATE OR REPLACE FUNCTION promptd.analytics_on_share()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    if new.forks > old.forks then
        perform promptd.analytics_record('share.forked', auth.uid(),
            jsonb_build_object('share_id', new.id, 'prompt_id', new.prompt_id), null, null);
    end if;
    return null;
end
$function$;
revoke all on function promptd.analytics_on_share() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Trigger (public.profiles, AFTER UPDATE OF subscription_tier): plan.changed
-- {from, to}, whatever changed it (Stripe, the grace job, an admin).
CREATE OR REPLACE FUNCTION promptd.analytics_on_plan()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    if new.subscription_tier is distinct from old.subscription_tier then
        perform promptd.analytics_record('plan.changed', new.id,
            jsonb_build_object('from', old.subscription_tier, 'to', new.subscription_tier), null, null);
    end if;
    return null;
end
$function$;
revoke all on function promptd.analytics_on_plan() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.analytics_partition_ensure(month) -> true when it created the
-- partition of the UTC month holding p_month (analytics_events_YYYYMM):
-- rows of that month waiting in the default partition move into it first,
-- then it is attached, in the caller's transaction.
CREATE OR REPLACE FUNCTION promptd.analytics_partition_ensure(p_month date)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_lo timestamptz := (date_trunc('month', p_month::timestamp) at time zone 'utc');
    v_hi timestamptz := ((date_trunc('month', p_month::timestamp) + interval '1 month') at time zone 'utc');
    v_name text := 'analytics_events_' || to_char(p_month, 'YYYYMM');
begin
    if to_regclass('promptd.' || v_name) is not null then
        return false;
    end if;
    execute format('create table promptd.%I (like promptd.analytics_events including defaults including constraints)',
                   v_name);
    execute format('revoke all on table promptd.%I from public, anon, authenticated, service_role', v_name);
    execute format('alter table promptd.%I enable row level security, force row level security', v_name);
    execute format('with moved as (delete from promptd.analytics_events_default d '
                   'where d.created_at >= $1 and d.created_at < $2 returning d.*) '
                   'insert into promptd.%I select * from moved', v_name) using v_lo, v_hi;
    execute format('alter table promptd.analytics_events attach partition promptd.%I '
                   'for values from (%L) to (%L)', v_name, v_lo, v_hi);
    return true;
end
$function$;
revoke all on function promptd.analytics_partition_ensure(date) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.analytics_partitions(months ahead, retention days) ->
-- {created, dropped, purged}: the "analytics.partitions" job.  Creates the
-- partitions of the current UTC month and p_ahead months after it, drops
-- every monthly partition whose end is more than p_retention days ago and
-- deletes such rows from the default partition.  One daemon at a time (a
-- transaction advisory lock; the other waits, then finds nothing to do).
CREATE OR REPLACE FUNCTION promptd.analytics_partitions(p_ahead integer, p_retention integer)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_month date := date_trunc('month', now() at time zone 'utc')::date;
    v_cut timestamptz := now() - make_interval(days => p_retention);
    v_created integer := 0;
    v_dropped integer := 0;
    v_purged bigint;
    t record;
begin
    if p_ahead < 0 or p_ahead > 24 or p_retention < 1 then
        raise exception 'analytics_partitions: ahead 0..24, retention >= 1 day' using errcode = '22023';
    end if;
    perform pg_advisory_xact_lock(hashtext('promptd.analytics_partitions'));
    for i in 0 .. p_ahead loop
        if promptd.analytics_partition_ensure((v_month + make_interval(months => i))::date) then
            v_created := v_created + 1;
        end if;
    end loop;
    for t in
        select c.relname from pg_catalog.pg_inherits h
          join pg_catalog.pg_class c on c.oid = h.inhrelid
         where h.inhparent = 'promptd.analytics_events'::regclass
           and c.relname ~ '^analytics_events_[0-9]{6}$'
           and ((to_date(right(c.relname, 6), 'YYYYMM')::timestamp + interval '1 month')
                at time zone 'utc') <= v_cut
         order by c.relname
    loop
        execute format('drop table promptd.%I', t.relname);
        v_dropped := v_dropped + 1;
    end loop;
    delete from promptd.analytics_events_default d where d.created_at < v_cut;
    get diagnostics v_purged = row_count;
    return jsonb_build_object('created', v_created, 'dropped', v_dropped, 'purged', v_purged);
end
$function$;
revoke all on function promptd.analytics_partitions(integer,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.analytics_partitions(integer,integer) to service_role;

-- promptd.analytics_rollup(batch) -> {rolled: n}: the "analytics.rollup"
-- job.  Takes up to p_batch queued rows (FOR UPDATE SKIP LOCKED: two
-- daemons take disjoint rows) and, in the same statement, deletes them
-- and adds them to the hourly and daily rollups and the daily active
-- users, so each raw row is counted exactly once: it commits with its
-- deletion or not at all.  The caller repeats while a batch comes back
-- full.  A row of a user is taken only with that user's key-share lock
-- (SKIP LOCKED too), which the daily active users' foreign key needs: an
-- account being deleted holds its user row, and its cascade then deletes
-- the user's queued rows; waiting for that row while holding them would
-- deadlock with it (the account's deletion failing), so its rows are left
-- to the cascade.  The rollups are written in key order, so two daemons
-- lock their common rows in the same order.
CREATE OR REPLACE FUNCTION promptd.analytics_rollup(p_batch integer)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_n bigint;
begin
    with anonymous as (
        select p.id from promptd.analytics_pending p
         where p.user_id is null order by p.id
         limit p_batch for update skip locked
    ), named as (
        select p.id from promptd.analytics_pending p join auth.users u on u.id = p.user_id
         order by p.id
         limit p_batch for update of p skip locked for key share of u skip locked
    ), taken as (
        delete from promptd.analytics_pending q
         where q.id in (select x.id from (select a.id from anonymous a union all select n.id from named n) x
                         order by x.id limit p_batch)
        returning q.*
    ), dims as (
        select t.created_at, d.source, d.event_type, d.dimension, d.value,
               t.tokens_in, t.tokens_out, t.latency_ms, t.cost_usd
          from taken t
          cross join lateral (values ('*', '*', '', ''),
                                     (t.source, t.event_type, '', ''),
                                     (t.source, t.event_type, 'provider', t.provider),
                                     (t.source, t.event_type, 'model', t.model))
                  d(source, event_type, dimension, value)
         where d.value is not null
    ), hourly as (
        insert into promptd.analytics_rollup_hourly as h
            (bucket, source, event_type, dimension, value, events, tokens_in, tokens_out, latency_ms, cost_usd)
        select date_trunc('hour', x.created_at at time zone 'utc') at time zone 'utc',
               x.source, x.event_type, x.dimension, x.value, count(*),
               coalesce(sum(x.tokens_in), 0), coalesce(sum(x.tokens_out), 0),
               coalesce(sum(x.latency_ms), 0), coalesce(sum(x.cost_usd), 0)
          from dims x group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5
        on conflict (bucket, source, event_type, dimension, value) do update
           set events = h.events + excluded.events, tokens_in = h.tokens_in + excluded.tokens_in,
               tokens_out = h.tokens_out + excluded.tokens_out,
               latency_ms = h.latency_ms + excluded.latency_ms, cost_usd = h.cost_usd + excluded.cost_usd
        returning 1
    ), daily as (
        insert into promptd.analytics_rollup_daily as d
            (day, source, event_type, dimension, value, events, tokens_in, tokens_out, latency_ms, cost_usd)
        select (x.created_at at time zone 'utc')::date,
               x.source, x.event_type, x.dimension, x.value, count(*),
               coalesce(sum(x.tokens_in), 0), coalesce(sum(x.tokens_out), 0),
               coalesce(sum(x.latency_ms), 0), coalesce(sum(x.cost_usd), 0)
          from dims x group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5
        on conflict (day, source, event_type, dimension, value) do update
           set events = d.events + excluded.events, tokens_in = d.tokens_in + excluded.tokens_in,
               tokens_out = d.tokens_out + excluded.tokens_out,
               latency_ms = d.latency_ms + excluded.latency_ms, cost_usd = d.cost_usd + excluded.cost_usd
        returning 1
    ), users as (
        insert into promptd.analytics_daily_users (day, user_id)
        select distinct (t.created_at at time zone 'utc')::date, t.user_id
          from taken t join auth.users u on u.id = t.user_id
         order by 1, 2
        on conflict do nothing
        returning 1
    )
    select count(*) into v_n from taken;
    return jsonb_build_object('rolled', v_n);
end
$function$;
revoke all on function promptd.analytics_rollup(integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.analytics_rollup(integer) to service_role;

-- promptd.analytics_export() -> the caller's own events, oldest first (the
-- account export, GET /api/v1/me/export: key analytics_events).  The
-- visitor hash is left out, like every hash in the export.
CREATE OR REPLACE FUNCTION promptd.analytics_export()
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select coalesce(jsonb_agg(jsonb_build_object(
               'event', e.event_type, 'source', e.source, 'properties', e.event_data,
               'created_at', e.created_at, 'received_at', e.received_at,
               'session_id', e.session_id, 'anonymous_id', e.anonymous_id, 'country', e.country)
           order by e.created_at, e.id), '[]'::jsonb)
      from promptd.analytics_events e
     where e.user_id = auth.uid() and auth.uid() is not null
$function$;
revoke all on function promptd.analytics_export() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.analytics_export() to authenticated;

-- promptd.analytics_rollup_purge(hourly days, daily days) -> {hourly, daily,
-- daily_users}: rows deleted from the hourly rollup older than the first
-- (by bucket), from the daily rollup and the daily active users older than
-- the second (by day, UTC).  Run by the "analytics.partitions" job.
CREATE OR REPLACE FUNCTION promptd.analytics_rollup_purge(p_hourly integer, p_daily integer)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_day date;
    v_hourly bigint;
    v_daily bigint;
    v_users bigint;
begin
    if p_hourly < 1 or p_daily < 1 or p_hourly > p_daily then
        raise exception 'analytics_rollup_purge: 1 <= hourly <= daily days' using errcode = '22023';
    end if;
    v_day := (now() at time zone 'utc')::date - p_daily;
    delete from promptd.analytics_rollup_hourly h
     where h.bucket < now() - make_interval(days => p_hourly);
    get diagnostics v_hourly = row_count;
    delete from promptd.analytics_rollup_daily d where d.day < v_day;
    get diagnostics v_daily = row_count;
    delete from promptd.analytics_daily_users u where u.day < v_day;
    get diagnostics v_users = row_count;
    return jsonb_build_object('hourly', v_hourly, 'daily', v_daily, 'daily_users', v_users);
end
$function$;
revoke all on function promptd.analytics_rollup_purge(integer,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.analytics_rollup_purge(integer,integer) to service_role;
