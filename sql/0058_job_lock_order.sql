-- 0058_job_lock_order.sql: the background jobs give way to an account's deletion instead of deadlocking with it: analytics_rollup takes a user's queued rows only with that user's key-share lock (SKIP LOCKED: an account being deleted holds its user row, and its cascade deletes the rows), and writes the rollups in key order; share_views_ingest locks the batch's shares first, in id order, waiting at most 100 ms (then nothing is counted and the batch is read again at the next run), and waits for nothing after that.  The current definitions are in sql/functions/analytics.sql and sql/functions/shares.sql.

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
