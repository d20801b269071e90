-- request-stats.sql: the endpoint statistics (issue 17): each node's per-minute snapshot of its request metrics (promptd.request_stats_snapshot, run by promptd-jobs) and GET /api/v1/admin/analytics/endpoints read from it.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "Statistics API").
--
-- Durations are the metrics module's histogram (src/core/metrics.c):
-- per-bucket counts (not cumulative), one per finite upper bound in
-- seconds and the last for +Inf; request_stats_bounds records the bounds.

-- promptd.request_stats_quantile(q, buckets, bounds) -> the q-quantile in
-- milliseconds (3 decimals) as Prometheus's histogram_quantile estimates
-- it: the bucket holding rank q * total, linear interpolation between its
-- lower bound (0 for the first) and its upper bound; a rank in the +Inf
-- bucket answers the highest finite bound.  An estimate, bounded by the
-- bucket bounds.  NULL when there are no observations.
CREATE OR REPLACE FUNCTION promptd.request_stats_quantile(p_q double precision, p_buckets bigint[], p_bounds double precision[])
 RETURNS numeric
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
    with c as (select u.i, u.n, sum(u.n) over (order by u.i) as cum
                 from unnest(p_buckets) with ordinality u(n, i)),
         t as (select sum(c.n) as total from c),
         hit as (select c.i, c.n, c.cum from c, t
                  where t.total > 0 and c.cum >= p_q * t.total order by c.i limit 1)
    select round((1000 * case
               when hit.i > cardinality(p_bounds) then p_bounds[cardinality(p_bounds)]
               else coalesce(p_bounds[hit.i - 1], 0)
                    + (p_bounds[hit.i] - coalesce(p_bounds[hit.i - 1], 0))
                      * (p_q * t.total - (hit.cum - hit.n)) / hit.n end)::numeric, 3)
      from t join hit on true
$function$;
revoke all on function promptd.request_stats_quantile(double precision,bigint[],double precision[]) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.request_stats_add(a, b) -> a + b element by element (arrays of
-- one length; a NULL side counts as zeros).
CREATE OR REPLACE FUNCTION promptd.request_stats_add(p_a bigint[], p_b bigint[])
 RETURNS bigint[]
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
    select array_agg(coalesce(u.a, 0) + coalesce(u.b, 0) order by u.i)
      from unnest(p_a, p_b) with ordinality u(a, b, i)
$function$;
revoke all on function promptd.request_stats_add(bigint[],bigint[]) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.request_stats_series(series, nbuckets) -> a snapshot's cumulative
-- values per (metrics file, family, route): series is reqstats.c's array of
-- {file,family,route,status,count} (promptd_http_requests_total by status)
-- and {file,family,route,buckets} (the duration histogram).
CREATE OR REPLACE FUNCTION promptd.request_stats_series(p_series jsonb, p_nbuckets integer)
 RETURNS TABLE(file text, family text, route text, requests bigint, status_4xx bigint, status_5xx bigint, buckets bigint[])
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
    select x.file, x.family, x.route,
           coalesce(sum(x.count) filter (where x.status is not null), 0)::bigint,
           coalesce(sum(x.count) filter (where x.status between 400 and 499), 0)::bigint,
           coalesce(sum(x.count) filter (where x.status >= 500), 0)::bigint,
           coalesce(max(x.buckets), array_fill(0::bigint, array[p_nbuckets]))
      from jsonb_to_recordset(p_series)
           as x(file text, family text, route text, status integer, count bigint, buckets bigint[])
     where x.file is not null and x.family is not null and x.route is not null
     group by x.file, x.family, x.route
$function$;
revoke all on function promptd.request_stats_series(jsonb,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.request_stats_snapshot(node, bounds, series, keep_days) -> {node,
-- minute, baseline, series, rows, requests, purged}: one snapshot of a
-- node's metrics files (promptd-jobs, once a minute; promptctl reqstats
-- snapshot).  Against the node's previous state (request_stats_state, per
-- file), each (file, family, route) adds its growth to this minute's row
-- of (node, family, route); a value below the previous one (a counter
-- reset) adds the new value, a file not seen before adds all of it, a file
-- gone adds nothing.  A node's first snapshot only records the state
-- (baseline: the history before it has no time).  Snapshots of one node
-- take turns; rows and node states older than keep_days are purged
-- (a node back after that takes a new baseline).
CREATE OR REPLACE FUNCTION promptd.request_stats_snapshot(p_node text, p_bounds double precision[], p_series jsonb, p_keep_days integer)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_minute timestamptz := date_trunc('minute', now());
    v_n integer := cardinality(p_bounds) + 1;
    v_bounds integer;
    v_baseline boolean;
    v_series integer;
    v_rows integer := 0;
    v_requests bigint := 0;
    v_purged integer;
begin
    if p_node is null or p_node = '' or length(p_node) > 128 or p_keep_days < 1
       or coalesce(cardinality(p_bounds), 0) < 1 or jsonb_typeof(p_series) <> 'array' then
        raise exception 'request_stats_snapshot: bad arguments' using errcode = '22023';
    end if;
    perform pg_advisory_xact_lock(hashtext('promptd.request_stats_snapshot'), hashtext(p_node));
    insert into promptd.request_stats_bounds (bounds) values (p_bounds) on conflict (bounds) do nothing;
    select b.id into v_bounds from promptd.request_stats_bounds b where b.bounds = p_bounds;
    v_baseline := not exists (select 1 from promptd.request_stats_nodes n where n.node = p_node);
    select count(*) into v_series from promptd.request_stats_series(p_series, v_n);
    if not v_baseline then
        with d as (
            select c.family, c.route,
                   case when r.reset then c.requests else c.requests - s.requests end as requests,
                   case when r.reset then c.status_4xx else c.status_4xx - s.status_4xx end as s4,
                   case when r.reset then c.status_5xx else c.status_5xx - s.status_5xx end as s5,
                   case when r.reset then c.buckets
                        else (select array_agg(u.a - u.b order by u.i)
                                from unnest(c.buckets, s.buckets) with ordinality u(a, b, i)) end as buckets
              from promptd.request_stats_series(p_series, v_n) c
              left join promptd.request_stats_state s
                on s.node = p_node and s.file = c.file and s.family = c.family and s.route = c.route
             cross join lateral (select s.node is null or c.requests < s.requests
                    or c.status_4xx < s.status_4xx or c.status_5xx < s.status_5xx
                    or cardinality(c.buckets) <> cardinality(s.buckets)
                    or exists (select 1 from unnest(c.buckets, s.buckets) u(a, b) where u.a < u.b)
                    as reset) r
        ), g as (
            select d.family, d.route, sum(d.requests)::bigint as requests, sum(d.s4)::bigint as s4,
                   sum(d.s5)::bigint as s5,
                   (select array_agg(e.n order by e.i)
                      from (select u.i, sum(u.n)::bigint as n
                              from d d2 cross join unnest(d2.buckets) with ordinality u(n, i)
                             where d2.family = d.family and d2.route = d.route group by u.i) e) as buckets
              from d group by d.family, d.route
        ), ins as (
            insert into promptd.request_stats_minute as m
                (minute, node, family, route, bounds_id, requests, status_4xx, status_5xx, buckets)
            select v_minute, p_node, g.family, g.route, v_bounds, g.requests, g.s4, g.s5, g.buckets
              from g
             where g.requests > 0 or exists (select 1 from unnest(g.buckets) n where n > 0)
            on conflict (minute, node, family, route) do update
               set requests = m.requests + excluded.requests,
                   status_4xx = m.status_4xx + excluded.status_4xx,
                   status_5xx = m.status_5xx + excluded.status_5xx,
                   buckets = case when m.bounds_id = excluded.bounds_id
                                  then promptd.request_stats_add(m.buckets, excluded.buckets)
                                  else m.buckets end
            returning 1
        )
        select (select count(*) from ins), (select coalesce(sum(g.requests), 0) from g)
          into v_rows, v_requests;
    end if;
    delete from promptd.request_stats_state s where s.node = p_node;
    insert into promptd.request_stats_state
        (node, file, family, route, requests, status_4xx, status_5xx, buckets)
    select p_node, c.file, c.family, c.route, c.requests, c.status_4xx, c.status_5xx, c.buckets
      from promptd.request_stats_series(p_series, v_n) c;
    insert into promptd.request_stats_nodes as n (node, last_snapshot_at) values (p_node, now())
    on conflict (node) do update set last_snapshot_at = excluded.last_snapshot_at;
    delete from promptd.request_stats_minute m
     where m.minute < now() - make_interval(days => p_keep_days);
    get diagnostics v_purged = row_count;
    delete from promptd.request_stats_nodes n
     where n.last_snapshot_at < now() - make_interval(days => p_keep_days);
    return jsonb_build_object('node', p_node, 'minute', to_char(v_minute at time zone 'utc',
            'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'baseline', v_baseline, 'series', v_series,
            'rows', v_rows, 'requests', v_requests, 'purged', v_purged);
end
$function$;
revoke all on function promptd.request_stats_snapshot(text,double precision[],jsonb,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.request_stats_snapshot(text,double precision[],jsonb,integer) to service_role;

-- promptd.request_stats_sum(from, to, by_route) -> the minute rows of
-- [from, to) summed per (family, route), or into one row (family and route
-- NULL) when not by_route; no row when there are none.  The quantiles use
-- the rows written with the newest bucket bounds of the range (the bounds
-- are the build's; rows of other bounds count in the totals only).
CREATE OR REPLACE FUNCTION promptd.request_stats_sum(p_from timestamp with time zone, p_to timestamp with time zone, p_by_route boolean)
 RETURNS TABLE(family text, route text, requests bigint, status_4xx bigint, status_5xx bigint, p50_ms numeric, p95_ms numeric, p99_ms numeric)
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
    with r as (select case when p_by_route then m.family end as f,
                      case when p_by_route then m.route end as rt,
                      m.requests, m.status_4xx, m.status_5xx, m.buckets, m.bounds_id
                 from promptd.request_stats_minute m
                where m.minute >= p_from and m.minute < p_to),
         b as (select s.id, s.bounds from promptd.request_stats_bounds s
                where s.id = (select max(r.bounds_id) from r)),
         h as (select e.f, e.rt, array_agg(e.n order by e.i) as buckets
                 from (select r.f, r.rt, u.i, sum(u.n)::bigint as n
                         from r join b on b.id = r.bounds_id
                        cross join unnest(r.buckets) with ordinality u(n, i)
                        group by 1, 2, 3) e
                group by e.f, e.rt),
         c as (select r.f, r.rt, sum(r.requests)::bigint as requests,
                      sum(r.status_4xx)::bigint as s4, sum(r.status_5xx)::bigint as s5
                 from r group by r.f, r.rt)
    select c.f, c.rt, c.requests, c.s4, c.s5,
           promptd.request_stats_quantile(0.5, h.buckets, b.bounds),
           promptd.request_stats_quantile(0.95, h.buckets, b.bounds),
           promptd.request_stats_quantile(0.99, h.buckets, b.bounds)
      from c
      left join h on h.f is not distinct from c.f and h.rt is not distinct from c.rt
      left join b on true
$function$;
revoke all on function promptd.request_stats_sum(timestamp with time zone,timestamp with time zone,boolean) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- GET /api/v1/admin/analytics/endpoints: requests, 4xx, 5xx and the
-- p50/p95/p99 duration estimates (ms) per (family, route) over the range,
-- most requested first, and the same for all routes per bucket.
CREATE OR REPLACE FUNCTION promptd.admin_analytics_endpoints(p_from timestamp with time zone, p_to timestamp with time zone, p_gran text)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    perform promptd.admin_require();
    return jsonb_build_object('granularity', p_gran,
        'endpoints', coalesce((
            select jsonb_agg(jsonb_build_object('family', s.family, 'route', s.route,
                       'requests', s.requests, 'status_4xx', s.status_4xx, 'status_5xx', s.status_5xx,
                       'p50_ms', s.p50_ms, 'p95_ms', s.p95_ms, 'p99_ms', s.p99_ms)
                       order by s.requests desc, s.family, s.route)
              from promptd.request_stats_sum(p_from, p_to, true) s), '[]'::jsonb),
        'items', coalesce((
            select jsonb_agg(jsonb_build_object('bucket', promptd.analytics_stats_time(b.bucket),
                       'requests', coalesce(s.requests, 0), 'status_4xx', coalesce(s.status_4xx, 0),
                       'status_5xx', coalesce(s.status_5xx, 0),
                       'p50_ms', s.p50_ms, 'p95_ms', s.p95_ms, 'p99_ms', s.p99_ms)
                       order by b.bucket)
              from promptd.analytics_stats_buckets(p_from, p_to, p_gran) b
              left join lateral promptd.request_stats_sum(
                  greatest(b.bucket at time zone 'utc', p_from),
                  least(b.bucket_end at time zone 'utc', p_to), false) s on true), '[]'::jsonb));
end
$function$;
revoke all on function promptd.admin_analytics_endpoints(timestamp with time zone,timestamp with time zone,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_analytics_endpoints(timestamp with time zone,timestamp with time zone,text) to authenticated;
