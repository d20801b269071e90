-- enrich.sql: enrichment: the provider circuit breaker; records and cache policies.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "promptctl").

-- promptd.enrich_breaker_allow(provider, cool-down seconds) -> 'clean' (closed
-- with no failure counted: a success need not be reported), 'call' (closed,
-- some failures counted: report the outcome), 'probe' (this caller is the one half-open probe), or 'skip' (open and
-- cooling down, or another caller's probe is in flight).  A probe that
-- never reported (its worker died) is given up after another cool-down.
CREATE OR REPLACE FUNCTION promptd.enrich_breaker_allow(p_provider text, p_cooldown integer)
 RETURNS text
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    b record;
begin
    select * into b from public.enrich_breakers where provider = p_provider;
    if not found or (b.state = 'closed' and b.failures = 0) then
        return 'clean';
    end if;
    if b.state = 'closed' then
        return 'call';
    end if;
    if b.state = 'open' and b.opened_at > now() - make_interval(secs => p_cooldown) then
        return 'skip';
    end if;
    if b.state = 'half_open' and b.probe_started > now() - make_interval(secs => p_cooldown) then
        return 'skip';
    end if;
    -- Cool-down over (or a stale probe): exactly one caller wins the probe.
    update public.enrich_breakers
       set state = 'half_open', probe_started = now(), updated_at = now()
     where provider = p_provider and state = b.state
       and coalesce(probe_started, '-infinity') = coalesce(b.probe_started, '-infinity');
    return case when found then 'probe' else 'skip' end;
end
$function$;
revoke all on function promptd.enrich_breaker_allow(text,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.enrich_breaker_allow(text,integer) to promptd_app, service_role;

-- promptd.enrich_breaker_report(provider, ok, threshold) -> the new state.
-- Success closes the breaker; a failure in half-open, or the threshold-th
-- consecutive failure, opens it (again) from now.
CREATE OR REPLACE FUNCTION promptd.enrich_breaker_report(p_provider text, p_ok boolean, p_threshold integer)
 RETURNS text
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_state text;
begin
    if p_ok then
        update public.enrich_breakers
           set state = 'closed', failures = 0, opened_at = null,
               probe_started = null, updated_at = now()
         where provider = p_provider and (state <> 'closed' or failures <> 0);
        return 'closed';
    end if;
    insert into public.enrich_breakers as b (provider, failures)
    values (p_provider, 1)
    on conflict (provider) do update
        set failures = b.failures + 1, updated_at = now()
    returning b.state into v_state;
    update public.enrich_breakers
       set state = 'open', opened_at = now(), probe_started = null
     where provider = p_provider
       and (state = 'half_open' or failures >= greatest(p_threshold, 1))
    returning state into v_state;
    return coalesce(v_state, 'closed');
end
$function$;
revoke all on function promptd.enrich_breaker_report(text,boolean,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.enrich_breaker_report(text,boolean,integer) to promptd_app, service_role;

-- promptd.enrich_breaker_release
CREATE OR REPLACE FUNCTION promptd.enrich_breaker_release(p_provider text)
 RETURNS text
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    -- open again with the old opened_at: its cool-down is already over, so
    -- the next enrich_breaker_allow() hands out a fresh probe
    update public.enrich_breakers
       set state = 'open', probe_started = null, updated_at = now()
     where provider = p_provider and state = 'half_open';
    return (select b.state from public.enrich_breakers b where b.provider = p_provider);
end
$function$;
revoke all on function promptd.enrich_breaker_release(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.enrich_breaker_release(text) to promptd_app, service_role;

-- Row level security on public.enrich_cache.
drop policy if exists enrich_cache_delete_own on public.enrich_cache;
create policy enrich_cache_delete_own on public.enrich_cache for delete to authenticated
    using ((user_id = ( SELECT auth.uid() AS uid)));

drop policy if exists enrich_cache_insert_own on public.enrich_cache;
create policy enrich_cache_insert_own on public.enrich_cache for insert to authenticated
    with check ((user_id = ( SELECT auth.uid() AS uid)));

drop policy if exists enrich_cache_select_own on public.enrich_cache;
create policy enrich_cache_select_own on public.enrich_cache for select to authenticated
    using ((user_id = ( SELECT auth.uid() AS uid)));

drop policy if exists enrich_cache_update_own on public.enrich_cache;
create policy enrich_cache_update_own on public.enrich_cache for update to authenticated
    using ((user_id = ( SELECT auth.uid() AS uid)))
    with check ((user_id = ( SELECT auth.uid() AS uid)));

-- Row level security on public.enrichments.
drop policy if exists enrichments_insert_own on public.enrichments;
create policy enrichments_insert_own on public.enrichments for insert to authenticated
    with check ((user_id = ( SELECT auth.uid() AS uid)));

drop policy if exists enrichments_select_own on public.enrichments;
create policy enrichments_select_own on public.enrichments for select to authenticated
    using ((user_id = ( SELECT auth.uid() AS uid)));

drop policy if exists enrichments_update_own on public.enrichments;
create policy enrichments_update_own on public.enrichments for update to authenticated
    using ((user_id = ( SELECT auth.uid() AS uid)))
    with check ((user_id = ( SELECT auth.uid() AS uid)));

-- promptd.enrich_handoff_take(id) -> the handed-off record, now running, and
-- its owner's stored provider keys (still encrypted): one row per key, or
-- one row with null key columns; no row when id is not a pending
-- synchronous record.  promptd-gateway's first statement of a run, one round
-- trip (service_role only: it may not read user_secrets itself).  PL/pgSQL,
-- not SQL: a SQL function with SET is planned again at every call, this
-- one's plan is kept by each gateway connection.
CREATE OR REPLACE FUNCTION promptd.enrich_handoff_take(p_id uuid)
 RETURNS TABLE(user_id uuid, input text, mode text, options text, prompt_id uuid, secret_id uuid, secret_name text, value_enc text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
#variable_conflict use_column
begin
    return query
    with t as (
        update public.enrichments e set status = 'running'
         where e.id = p_id and e.status = 'pending' and not e.async
        returning e.user_id, e.input, e.mode, e.options::text as options, e.prompt_id)
    select t.user_id, t.input, t.mode, t.options, t.prompt_id, s.id, s.name, s.value_enc
      from t left join public.user_secrets s
        on s.user_id = t.user_id and s.name in ('openai_api_key', 'anthropic_api_key');
end
$function$;
revoke all on function promptd.enrich_handoff_take(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.enrich_handoff_take(uuid) to service_role;

-- promptd.admin_enrich_breakers(providers, cool-down seconds) -> {cooldown_s,
-- providers:[{provider, configured, state, failures, opened_at, retry_at,
-- probe_started, updated_at}]}: every breaker row and every configured
-- provider (closed, no failures, when it has no row), by provider.  retry_at:
-- when an open breaker lets the next call through as the probe.
CREATE OR REPLACE FUNCTION promptd.admin_enrich_breakers(p_providers text[], p_cooldown integer)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    perform promptd.admin_require();
    return jsonb_build_object('cooldown_s', p_cooldown, 'providers', coalesce((
        select jsonb_agg(jsonb_build_object('provider', n.provider,
                   'configured', n.provider = any(coalesce(p_providers, '{}')),
                   'state', coalesce(b.state, 'closed'), 'failures', coalesce(b.failures, 0),
                   'opened_at', b.opened_at,
                   'retry_at', case when b.state = 'open'
                                    then b.opened_at + make_interval(secs => p_cooldown) end,
                   'probe_started', b.probe_started, 'updated_at', b.updated_at)
                   order by n.provider)
          from (select e.provider from public.enrich_breakers e
                union select unnest(coalesce(p_providers, '{}'))) n
          left join public.enrich_breakers b on b.provider = n.provider), '[]'::jsonb));
end
$function$;
revoke all on function promptd.admin_enrich_breakers(text[],integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_enrich_breakers(text[],integer) to authenticated;
