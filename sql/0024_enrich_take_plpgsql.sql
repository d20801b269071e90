-- 0024_enrich_take_plpgsql.sql: the gateway's take-up as PL/pgSQL (its plan kept per connection, not made at every call); the breaker's 'clean' verdict, so a success on a breaker that counted no failure costs no statement.
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
