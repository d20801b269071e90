-- analytics-stats.sql: the statistics API (issue 17): admin statistics over a range and a granularity, and each user's own usage, read from the rollups and existing tables (never the raw events).
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "Statistics API").
--
-- Every function takes the range [p_from, p_to) (the worker validated it:
-- from < to, at most 366 days) and, where a series makes sense, the
-- granularity: 'hour', 'day', 'week' (ISO weeks, from Monday) or 'month',
-- buckets in UTC.  A daily rollup row counts in a range when its day's
-- midnight (UTC) lies in it.  Times in the answers are ISO-8601 UTC.

-- promptd.analytics_stats_buckets(from, to, granularity) -> the buckets
-- (UTC, timestamp without time zone) overlapping [from, to), in order.
CREATE OR REPLACE FUNCTION promptd.analytics_stats_buckets(p_from timestamp with time zone, p_to timestamp with time zone, p_gran text)
 RETURNS TABLE(bucket timestamp without time zone, bucket_end timestamp without time zone)
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
    select g, g + ('1 ' || p_gran)::interval
      from generate_series(date_trunc(p_gran, p_from at time zone 'utc'),
                           (p_to at time zone 'utc') - interval '1 microsecond',
                           ('1 ' || p_gran)::interval) g
$function$;
revoke all on function promptd.analytics_stats_buckets(timestamp with time zone,timestamp with time zone,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.analytics_stats_series(from, to, granularity, event, dimension)
-- -> the server rollups of one event per bucket and dimension value (the
-- hourly rollup for 'hour', the daily one otherwise); only buckets and
-- values that have rows.
CREATE OR REPLACE FUNCTION promptd.analytics_stats_series(p_from timestamp with time zone, p_to timestamp with time zone, p_gran text, p_event text, p_dimension text)
 RETURNS TABLE(bucket timestamp without time zone, value text, events bigint, tokens_in bigint, tokens_out bigint, latency_ms bigint, cost_usd numeric)
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
    select date_trunc(p_gran, x.t), x.value, sum(x.events)::bigint, sum(x.tokens_in)::bigint,
           sum(x.tokens_out)::bigint, sum(x.latency_ms)::bigint, sum(x.cost_usd)
      from (select h.bucket at time zone 'utc' as t, h.value, h.events, h.tokens_in,
                   h.tokens_out, h.latency_ms, h.cost_usd
              from promptd.analytics_rollup_hourly h
             where p_gran = 'hour' and h.source = 'server' and h.event_type = p_event
               and h.dimension = p_dimension and h.bucket >= p_from and h.bucket < p_to
            union all
            select d.day::timestamp, d.value, d.events, d.tokens_in, d.tokens_out,
                   d.latency_ms, d.cost_usd
              from promptd.analytics_rollup_daily d
             where p_gran <> 'hour' and d.source = 'server' and d.event_type = p_event
               and d.dimension = p_dimension
               and d.day::timestamp >= p_from at time zone 'utc'
               and d.day::timestamp < p_to at time zone 'utc') x
     group by 1, 2
$function$;
revoke all on function promptd.analytics_stats_series(timestamp with time zone,timestamp with time zone,text,text,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.analytics_stats_time(t) -> t as ISO-8601 UTC text (Z).
CREATE OR REPLACE FUNCTION promptd.analytics_stats_time(p_t timestamp without time zone)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
    select to_char(p_t, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$function$;
revoke all on function promptd.analytics_stats_time(timestamp without time zone) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.analytics_stats_active(day) -> {dau, wau, mau}: distinct users
-- of analytics_daily_users on that day, the 7 and the 30 days ending it.
CREATE OR REPLACE FUNCTION promptd.analytics_stats_active(p_day date)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
    select jsonb_build_object(
        'dau', count(distinct u.user_id) filter (where u.day = p_day),
        'wau', count(distinct u.user_id) filter (where u.day > p_day - 7),
        'mau', count(distinct u.user_id))
      from promptd.analytics_daily_users u
     where u.day > p_day - 30 and u.day <= p_day
$function$;
revoke all on function promptd.analytics_stats_active(date) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- GET /api/v1/admin/analytics/overview: the headline numbers of the range.
-- signups from auth.users; dau/wau/mau on the range's last day;
-- enrichments, tokens, cost, share views and forks from the daily rollups;
-- paid_users now (profiles on a tier other than free); requests, p95_ms
-- and error_rate (the share of 5xx answers, NULL without requests) from
-- the endpoint statistics (request-stats.sql).
CREATE OR REPLACE FUNCTION promptd.admin_analytics_overview(p_from timestamp with time zone, p_to timestamp with time zone)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v jsonb;
    v_requests bigint;
    v_5xx bigint;
    v_p95 numeric;
begin
    perform promptd.admin_require();
    select jsonb_build_object(
        'enrichments', coalesce(sum(s.events) filter (where s.e like 'enrichment.%'), 0),
        'enrichments_failed', coalesce(sum(s.events) filter (where s.e = 'enrichment.failed'), 0),
        'success_rate', round(sum(s.events) filter (where s.e = 'enrichment.completed')::numeric
            / nullif(sum(s.events) filter (where s.e like 'enrichment.%'), 0), 4),
        'tokens_in', coalesce(sum(s.tokens_in), 0), 'tokens_out', coalesce(sum(s.tokens_out), 0),
        'cost_usd', coalesce(sum(s.cost_usd), 0),
        'share_views', coalesce(sum(s.events) filter (where s.e = 'share.viewed'), 0),
        'share_forks', coalesce(sum(s.events) filter (where s.e = 'share.forked'), 0))
      into v
      from (select e.e, x.events, x.tokens_in, x.tokens_out, x.cost_usd
              from unnest(array['enrichment.completed', 'enrichment.failed', 'share.viewed',
                                'share.forked']) e(e)
              cross join lateral promptd.analytics_stats_series(p_from, p_to, 'day', e.e, '') x) s;
    select s.requests, s.status_5xx, s.p95_ms into v_requests, v_5xx, v_p95
      from promptd.request_stats_sum(p_from, p_to, false) s;
    return jsonb_build_object('from', promptd.analytics_stats_time(p_from at time zone 'utc'),
        'to', promptd.analytics_stats_time(p_to at time zone 'utc'),
        'signups', (select count(*) from auth.users u
                     where u.created_at >= p_from and u.created_at < p_to),
        'paid_users', (select count(*) from public.profiles p where p.subscription_tier <> 'free'))
        || promptd.analytics_stats_active(((p_to at time zone 'utc') - interval '1 microsecond')::date)
        || v
        || jsonb_build_object('requests', coalesce(v_requests, 0), 'p95_ms', v_p95,
               'error_rate', round(v_5xx::numeric / nullif(v_requests, 0), 4));
end
$function$;
revoke all on function promptd.admin_analytics_overview(timestamp with time zone,timestamp with time zone) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_analytics_overview(timestamp with time zone,timestamp with time zone) to authenticated;

-- GET /api/v1/admin/analytics/active-users: per bucket (day, week or
-- month), active (distinct users in the bucket) and dau/wau/mau on the
-- bucket's last day within the range.
CREATE OR REPLACE FUNCTION promptd.admin_analytics_active_users(p_from timestamp with time zone, p_to timestamp with time zone, p_gran text)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    perform promptd.admin_require();
    return jsonb_build_object('granularity', p_gran, 'items', coalesce((
        select jsonb_agg(jsonb_build_object('bucket', promptd.analytics_stats_time(b.bucket),
                   'active', (select count(distinct u.user_id) from promptd.analytics_daily_users u
                               where u.day::timestamp >= greatest(b.bucket, p_from at time zone 'utc')
                                 and u.day::timestamp < least(b.bucket_end, p_to at time zone 'utc')))
                   || promptd.analytics_stats_active((least(b.bucket_end, p_to at time zone 'utc')
                                                     - interval '1 microsecond')::date)
                   order by b.bucket)
          from promptd.analytics_stats_buckets(p_from, p_to, p_gran) b), '[]'::jsonb));
end
$function$;
revoke all on function promptd.admin_analytics_active_users(timestamp with time zone,timestamp with time zone,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_analytics_active_users(timestamp with time zone,timestamp with time zone,text) to authenticated;

-- GET /api/v1/admin/analytics/signups: accounts created (auth.users
-- created_at) per bucket, and the total.
CREATE OR REPLACE FUNCTION promptd.admin_analytics_signups(p_from timestamp with time zone, p_to timestamp with time zone, p_gran text)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    perform promptd.admin_require();
    return (select jsonb_build_object('granularity', p_gran,
                'total', coalesce(sum(c.n), 0),
                'items', coalesce(jsonb_agg(jsonb_build_object(
                    'bucket', promptd.analytics_stats_time(c.bucket), 'signups', c.n)
                    order by c.bucket), '[]'::jsonb))
              from (select b.bucket, (select count(*) from auth.users u
                                       where u.created_at >= greatest(b.bucket at time zone 'utc', p_from)
                                         and u.created_at < least(b.bucket_end at time zone 'utc', p_to)) n
                      from promptd.analytics_stats_buckets(p_from, p_to, p_gran) b) c);
end
$function$;
revoke all on function promptd.admin_analytics_signups(timestamp with time zone,timestamp with time zone,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_analytics_signups(timestamp with time zone,timestamp with time zone,text) to authenticated;

-- GET /api/v1/admin/analytics/enrichments: per bucket and provider (the
-- rollups' provider dimension), completed, failed, success_rate
-- (completed / both, 4 decimals) and latency_ms_mean (over both).
CREATE OR REPLACE FUNCTION promptd.admin_analytics_enrichments(p_from timestamp with time zone, p_to timestamp with time zone, p_gran text)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    perform promptd.admin_require();
    return jsonb_build_object('granularity', p_gran, 'items', coalesce((
        select jsonb_agg(jsonb_build_object('bucket', promptd.analytics_stats_time(p.bucket),
                   'provider', p.value, 'completed', p.ok, 'failed', p.failed,
                   'success_rate', round(p.ok::numeric / nullif(p.ok + p.failed, 0), 4),
                   'latency_ms_mean', round(p.latency::numeric / nullif(p.ok + p.failed, 0), 1))
                   order by p.bucket, p.value)
          from (select x.bucket, x.value,
                       coalesce(sum(x.events) filter (where e.e = 'enrichment.completed'), 0) ok,
                       coalesce(sum(x.events) filter (where e.e = 'enrichment.failed'), 0) failed,
                       sum(x.latency_ms) latency
                  from unnest(array['enrichment.completed', 'enrichment.failed']) e(e)
                  cross join lateral promptd.analytics_stats_series(p_from, p_to, p_gran, e.e, 'provider') x
                 group by 1, 2) p), '[]'::jsonb));
end
$function$;
revoke all on function promptd.admin_analytics_enrichments(timestamp with time zone,timestamp with time zone,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_analytics_enrichments(timestamp with time zone,timestamp with time zone,text) to authenticated;

-- GET /api/v1/admin/analytics/costs: tokens and estimated cost over the
-- range by provider and by model (two lists: the rollups keep the two
-- dimensions apart), most expensive first, of completed and failed
-- enrichments.
CREATE OR REPLACE FUNCTION promptd.admin_analytics_costs(p_from timestamp with time zone, p_to timestamp with time zone)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    perform promptd.admin_require();
    return (select jsonb_object_agg(d.key, coalesce((
        select jsonb_agg(jsonb_build_object(d.name, c.value, 'enrichments', c.n,
                   'tokens_in', c.tin, 'tokens_out', c.tout, 'cost_usd', c.cost)
                   order by c.cost desc, c.value)
          from (select x.value, sum(x.events) n, sum(x.tokens_in) tin, sum(x.tokens_out) tout,
                       sum(x.cost_usd) cost
                  from unnest(array['enrichment.completed', 'enrichment.failed']) e(e)
                  cross join lateral promptd.analytics_stats_series(p_from, p_to, 'day', e.e, d.name) x
                 group by 1) c), '[]'::jsonb))
      from (values ('by_provider', 'provider'), ('by_model', 'model')) d(key, name));
end
$function$;
revoke all on function promptd.admin_analytics_costs(timestamp with time zone,timestamp with time zone) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_analytics_costs(timestamp with time zone,timestamp with time zone) to authenticated;

-- GET /api/v1/admin/analytics/sharing: share views and forks per bucket
-- (the rollups), and the ten shares most viewed in the range
-- (public.share_daily; ties by id).
CREATE OR REPLACE FUNCTION promptd.admin_analytics_sharing(p_from timestamp with time zone, p_to timestamp with time zone, p_gran text)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    perform promptd.admin_require();
    return jsonb_build_object('granularity', p_gran, 'items', coalesce((
        select jsonb_agg(jsonb_build_object('bucket', promptd.analytics_stats_time(b.bucket),
                   'views', coalesce(v.events, 0), 'forks', coalesce(f.events, 0)) order by b.bucket)
          from promptd.analytics_stats_buckets(p_from, p_to, p_gran) b
          left join promptd.analytics_stats_series(p_from, p_to, p_gran, 'share.viewed', '') v
            on v.bucket = b.bucket
          left join promptd.analytics_stats_series(p_from, p_to, p_gran, 'share.forked', '') f
            on f.bucket = b.bucket), '[]'::jsonb),
        'top_shares', coalesce((
        select jsonb_agg(jsonb_build_object('share_id', t.share_id, 'prompt_id', s.prompt_id,
                   'views', t.views) order by t.views desc, t.share_id)
          from (select d.share_id, sum(d.views) views from public.share_daily d
                 where d.day::timestamp >= p_from at time zone 'utc'
                   and d.day::timestamp < p_to at time zone 'utc'
                 group by 1 order by 2 desc, 1 limit 10) t
          join public.shares s on s.id = t.share_id), '[]'::jsonb));
end
$function$;
revoke all on function promptd.admin_analytics_sharing(timestamp with time zone,timestamp with time zone,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_analytics_sharing(timestamp with time zone,timestamp with time zone,text) to authenticated;

-- GET /api/v1/me/stats: the caller's own usage per bucket (day, week or
-- month): prompts they created, enrichments they ran (all statuses) and
-- their tokens, and the views of their shares (public.share_daily).  Only
-- rows whose user_id is auth.uid().
CREATE OR REPLACE FUNCTION promptd.me_stats(p_from timestamp with time zone, p_to timestamp with time zone, p_gran text)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_uid uuid := auth.uid();
begin
    if v_uid is null then
        raise exception 'signed in only' using errcode = '42501';
    end if;
    return jsonb_build_object('granularity', p_gran, 'items', coalesce((
        select jsonb_agg(jsonb_build_object('bucket', promptd.analytics_stats_time(b.bucket),
            'prompts', (select count(*) from public.prompts p where p.user_id = v_uid
                         and p.created_at >= greatest(b.bucket at time zone 'utc', p_from)
                         and p.created_at < least(b.bucket_end at time zone 'utc', p_to)))
            || (select jsonb_build_object('enrichments', count(*),
                       'tokens_in', coalesce(sum(e.tokens_in), 0),
                       'tokens_out', coalesce(sum(e.tokens_out), 0))
                  from public.enrichments e where e.user_id = v_uid
                   and e.created_at >= greatest(b.bucket at time zone 'utc', p_from)
                   and e.created_at < least(b.bucket_end at time zone 'utc', p_to))
            || jsonb_build_object('share_views', (select coalesce(sum(d.views), 0)
                  from public.share_daily d join public.shares s on s.id = d.share_id
                 where s.user_id = v_uid
                   and d.day::timestamp >= greatest(b.bucket, p_from at time zone 'utc')
                   and d.day::timestamp < least(b.bucket_end, p_to at time zone 'utc')))
            order by b.bucket)
          from promptd.analytics_stats_buckets(p_from, p_to, p_gran) b), '[]'::jsonb));
end
$function$;
revoke all on function promptd.me_stats(timestamp with time zone,timestamp with time zone,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.me_stats(timestamp with time zone,timestamp with time zone,text) to authenticated;

-- GET /api/v1/admin/analytics/conversion: free -> paid by sign-up cohort:
-- per bucket, the accounts created in it and how many of them are on a
-- paid tier now (profiles.subscription_tier other than free); over the
-- range, plan.changed events (the rollups), and now, paid users and live
-- Stripe subscriptions (active or trialing).
CREATE OR REPLACE FUNCTION promptd.admin_analytics_conversion(p_from timestamp with time zone, p_to timestamp with time zone, p_gran text)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    perform promptd.admin_require();
    return (select jsonb_build_object('granularity', p_gran,
                'signups', coalesce(sum(c.n), 0), 'paid', coalesce(sum(c.paid), 0),
                'rate', round(sum(c.paid) / nullif(sum(c.n), 0), 4),
                'plan_changes', (select coalesce(sum(x.events), 0)
                    from promptd.analytics_stats_series(p_from, p_to, 'day', 'plan.changed', '') x),
                'paid_users_now', (select count(*) from public.profiles p where p.subscription_tier <> 'free'),
                'live_subscriptions', (select count(*) from promptd.billing_subscriptions s
                    where s.status in ('active', 'trialing')),
                'items', coalesce(jsonb_agg(jsonb_build_object('bucket', promptd.analytics_stats_time(c.bucket),
                    'signups', c.n, 'paid', c.paid, 'rate', round(c.paid::numeric / nullif(c.n, 0), 4))
                    order by c.bucket), '[]'::jsonb))
              from (select b.bucket, count(u.id) n, count(u.id) filter (where p.subscription_tier <> 'free') paid
                      from promptd.analytics_stats_buckets(p_from, p_to, p_gran) b
                      left join auth.users u
                        on u.created_at >= greatest(b.bucket at time zone 'utc', p_from)
                       and u.created_at < least(b.bucket_end at time zone 'utc', p_to)
                      left join public.profiles p on p.id = u.id
                     group by 1) c);
end
$function$;
revoke all on function promptd.admin_analytics_conversion(timestamp with time zone,timestamp with time zone,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_analytics_conversion(timestamp with time zone,timestamp with time zone,text) to authenticated;

-- GET /api/v1/admin/analytics/retention: cohorts by sign-up week (ISO
-- weeks overlapping the range, accounts created in the range): each
-- cohort's size and, for week 0 (the sign-up week) up to 12 weeks later
-- while the week has begun before the range's end, how many of the cohort
-- were active (analytics_daily_users) in that week and their share.
CREATE OR REPLACE FUNCTION promptd.admin_analytics_retention(p_from timestamp with time zone, p_to timestamp with time zone)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    perform promptd.admin_require();
    return jsonb_build_object('cohorts', coalesce((
        select jsonb_agg(jsonb_build_object('week', promptd.analytics_stats_time(c.bucket),
                   'size', c.size, 'weeks', (
            select coalesce(jsonb_agg(jsonb_build_object('week', k, 'active', a.n,
                       'share', round(a.n::numeric / nullif(c.size, 0), 4)) order by k), '[]'::jsonb)
              from generate_series(0, 12) k
              cross join lateral (select count(distinct d.user_id) n
                                    from promptd.analytics_daily_users d
                                    join auth.users u on u.id = d.user_id
                                   where u.created_at >= greatest(c.bucket at time zone 'utc', p_from)
                                     and u.created_at < least(c.bucket_end at time zone 'utc', p_to)
                                     and d.day >= (c.bucket + k * interval '1 week')::date
                                     and d.day < (c.bucket + (k + 1) * interval '1 week')::date) a
             where c.bucket + k * interval '1 week' < p_to at time zone 'utc'))
               order by c.bucket)
          from (select b.bucket, b.bucket_end, (select count(*) from auth.users u
                        where u.created_at >= greatest(b.bucket at time zone 'utc', p_from)
                          and u.created_at < least(b.bucket_end at time zone 'utc', p_to)) size
                  from promptd.analytics_stats_buckets(p_from, p_to, 'week') b) c), '[]'::jsonb));
end
$function$;
revoke all on function promptd.admin_analytics_retention(timestamp with time zone,timestamp with time zone) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_analytics_retention(timestamp with time zone,timestamp with time zone) to authenticated;

-- GET /api/v1/admin/analytics/top-prompts: the ten prompts whose shares
-- were viewed most in the range (public.share_daily), the ten enriched
-- most (enrichments created in the range with a prompt_id), and the ten
-- tags on most prompts created in the range; ties by id or tag.  Ids
-- only, no titles: admins see what is popular, not what it says.
CREATE OR REPLACE FUNCTION promptd.admin_analytics_top_prompts(p_from timestamp with time zone, p_to timestamp with time zone)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    perform promptd.admin_require();
    return jsonb_build_object(
        'by_share_views', coalesce((select jsonb_agg(jsonb_build_object('prompt_id', t.id, 'views', t.n)
                                                     order by t.n desc, t.id)
            from (select s.prompt_id id, sum(d.views) n from public.share_daily d
                    join public.shares s on s.id = d.share_id
                   where s.prompt_id is not null
                     and d.day::timestamp >= p_from at time zone 'utc'
                     and d.day::timestamp < p_to at time zone 'utc'
                   group by 1 order by 2 desc, 1 limit 10) t), '[]'::jsonb),
        'by_enrichments', coalesce((select jsonb_agg(jsonb_build_object('prompt_id', t.id, 'enrichments', t.n)
                                                     order by t.n desc, t.id)
            from (select e.prompt_id id, count(*) n from public.enrichments e
                   where e.prompt_id is not null and e.created_at >= p_from and e.created_at < p_to
                   group by 1 order by 2 desc, 1 limit 10) t), '[]'::jsonb),
        'tags', coalesce((select jsonb_agg(jsonb_build_object('tag', t.tag, 'prompts', t.n)
                                           order by t.n desc, t.tag)
            from (select g.tag, count(*) n from public.prompts p cross join unnest(p.tags) g(tag)
                   where p.created_at >= p_from and p.created_at < p_to
                   group by 1 order by 2 desc, 1 limit 10) t), '[]'::jsonb));
end
$function$;
revoke all on function promptd.admin_analytics_top_prompts(timestamp with time zone,timestamp with time zone) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_analytics_top_prompts(timestamp with time zone,timestamp with time zone) to authenticated;
