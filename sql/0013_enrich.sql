-- 0013_enrich.sql: enrichment records (history, async jobs), the result cache and the providers' circuit breakers.
--
-- public.enrichments: one row per enrichment request, written in the
-- request's transaction (a synchronous result, or an async request's
-- pending row that the enrich job completes).  They feed quotas and
-- analytics later.  public.enrich_cache: results under a SHA-256 key that
-- covers the tenant, the normalised input, every option, the provider and
-- model that answered and the engine version; rows are per user (RLS), so
-- one user's entry can never be read for another even with the same key.
-- public.enrich_breakers: per-provider circuit-breaker state shared by every
-- stateless worker; only the two SECURITY DEFINER functions below touch it,
-- each in its own short autocommit statement (never inside a request's
-- transaction, so no row lock is held across a provider call).

create table public.enrichments (
    id            uuid primary key default gen_random_uuid(),
    user_id       uuid not null default auth.uid()
        references auth.users (id) on delete cascade,
    input_hash    text not null check (input_hash ~ '^[0-9a-f]{64}$'),
    input         text not null check (octet_length(input) <= 204800),
    mode          text not null
        check (mode in ('improve', 'structure', 'clarify', 'expand', 'concise')),
    options       jsonb not null default '{}' check (jsonb_typeof(options) = 'object'),
    status        text not null default 'done'
        check (status in ('pending', 'running', 'done', 'failed')),
    outcome       text check (outcome is null or outcome in ('success', 'failed')),
    provider      text,
    model         text,
    attempts      jsonb not null default '[]' check (jsonb_typeof(attempts) = 'array'),
    latency_ms    int check (latency_ms is null or latency_ms >= 0),
    tokens_in     int check (tokens_in is null or tokens_in >= 0),
    tokens_out    int check (tokens_out is null or tokens_out >= 0),
    cost_usd      numeric(14, 8) check (cost_usd is null or cost_usd >= 0),
    cached        boolean not null default false,
    async         boolean not null default false,
    job_id        bigint,
    prompt_id     uuid references public.prompts (id) on delete set null,
    prompt_version int,
    result        jsonb,
    error         text,
    created_at    timestamptz not null default now(),
    finished_at   timestamptz
);

create index enrichments_user_created on public.enrichments (user_id, created_at desc, id desc);

alter table public.enrichments enable row level security;
alter table public.enrichments force row level security;

create policy enrichments_select_own on public.enrichments
    for select to authenticated
    using (user_id = (select auth.uid()));
create policy enrichments_insert_own on public.enrichments
    for insert to authenticated
    with check (user_id = (select auth.uid()));
create policy enrichments_update_own on public.enrichments
    for update to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid()));

-- Records are history: no DELETE; only the completion columns change
-- (the enrich job finishing an async request).
revoke all on table public.enrichments from public, anon, authenticated, service_role;
grant select on table public.enrichments to authenticated;
grant insert (id, input_hash, input, mode, options, status, outcome, provider, model,
              attempts, latency_ms, tokens_in, tokens_out, cost_usd, cached,
              async, job_id, prompt_id, prompt_version, result, error, finished_at)
    on table public.enrichments to authenticated;
grant update (status, outcome, provider, model, attempts, latency_ms, tokens_in,
              tokens_out, cost_usd, cached, job_id, prompt_version, result, error,
              finished_at)
    on table public.enrichments to authenticated;

create table public.enrich_cache (
    user_id    uuid not null default auth.uid()
        references auth.users (id) on delete cascade,
    key        text not null check (key ~ '^[0-9a-f]{64}$'),
    provider   text not null,
    model      text not null,
    result     jsonb not null check (jsonb_typeof(result) = 'object'),
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    primary key (user_id, key)
);

create index enrich_cache_expires on public.enrich_cache (expires_at);

alter table public.enrich_cache enable row level security;
alter table public.enrich_cache force row level security;

create policy enrich_cache_select_own on public.enrich_cache
    for select to authenticated
    using (user_id = (select auth.uid()));
create policy enrich_cache_insert_own on public.enrich_cache
    for insert to authenticated
    with check (user_id = (select auth.uid()));
create policy enrich_cache_update_own on public.enrich_cache
    for update to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid()));
create policy enrich_cache_delete_own on public.enrich_cache
    for delete to authenticated
    using (user_id = (select auth.uid()));

revoke all on table public.enrich_cache from public, anon, authenticated, service_role;
grant select, insert, delete on table public.enrich_cache to authenticated;
grant update (provider, model, result, created_at, expires_at)
    on table public.enrich_cache to authenticated;
grant select, delete on table public.enrich_cache to service_role;

create table public.enrich_breakers (
    provider      text primary key check (length(provider) between 1 and 200),
    state         text not null default 'closed'
        check (state in ('closed', 'open', 'half_open')),
    failures      int not null default 0 check (failures >= 0),
    opened_at     timestamptz,
    probe_started timestamptz,
    updated_at    timestamptz not null default now()
);

alter table public.enrich_breakers enable row level security;
alter table public.enrich_breakers force row level security;
-- No policy: readable by service_role (BYPASSRLS) for operators; written
-- only by the definer functions.
revoke all on table public.enrich_breakers from public, anon, authenticated, service_role;
grant select on table public.enrich_breakers to service_role;

-- promptd.enrich_breaker_allow(provider, cool-down seconds) -> 'call' (closed),
-- 'probe' (this caller is the one half-open probe), or 'skip' (open and
-- cooling down, or another caller's probe is in flight).  A probe that
-- never reported (its worker died) is given up after another cool-down.
create function promptd.enrich_breaker_allow(p_provider text, p_cooldown int)
returns text
language plpgsql volatile security definer set search_path = ''
as $$
declare
    b record;
begin
    select * into b from public.enrich_breakers where provider = p_provider;
    if not found or b.state = 'closed' then
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
$$;

-- promptd.enrich_breaker_report(provider, ok, threshold) -> the new state.
-- Success closes the breaker; a failure in half-open, or the threshold-th
-- consecutive failure, opens it (again) from now.
create function promptd.enrich_breaker_report(p_provider text, p_ok boolean,
                                              p_threshold int)
returns text
language plpgsql volatile security definer set search_path = ''
as $$
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
$$;

revoke all on function promptd.enrich_breaker_allow(text, int) from public;
revoke all on function promptd.enrich_breaker_report(text, boolean, int) from public;
grant execute on function promptd.enrich_breaker_allow(text, int) to promptd_app, service_role;
grant execute on function promptd.enrich_breaker_report(text, boolean, int)
    to promptd_app, service_role;
