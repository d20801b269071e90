-- 0061_webhook_record_lock_order.sql: a webhook sender's record of its attempts locks each endpoint before the delivery, and records the endpoints in order.  webhook_record locked the delivery and then updated its endpoint (the failure streak), inside webhook_record_all's one transaction per batch: two senders recording attempts for the same endpoints in other orders deadlocked, and so did a record and the endpoint's deletion (the endpoint's row, then its deliveries by the cascade); the victim's outcomes were lost (its deliveries sent again after their lease) or the deletion answered 503.  The current definitions are in sql/functions/webhooks.sql.

create or replace function promptd.webhook_record(p_delivery uuid, p_attempt integer, p_sender text,
                                                  p_status integer, p_latency integer,
                                                  p_response text, p_error text,
                                                  p_retry_after integer, p_schedule integer[],
                                                  p_disable_after integer)
 returns text
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    d promptd.webhook_deliveries;
    e public.webhook_endpoints;
    v_ok boolean := p_status between 200 and 299;
    v_wait double precision;
    v_state text;
begin
    select * into d from promptd.webhook_deliveries x
     where x.id = p_delivery and x.attempts = p_attempt and x.state = 'sending'
       and x.locked_by = p_sender;
    if d.id is null then
        return 'stale';
    end if;
    if v_ok then
        v_state := 'succeeded';
        -- (last_success_at to the second: not one write per delivery)
        update public.webhook_endpoints x set failing_since = null, last_success_at = now()
         where x.id = d.endpoint_id
           and (x.failing_since is not null or x.last_success_at is null
                or x.last_success_at < now() - interval '1 second');
    else
        update public.webhook_endpoints x set failing_since = coalesce(x.failing_since, now())
         where x.id = d.endpoint_id returning * into e;
        v_state := case when p_attempt >= coalesce(cardinality(p_schedule), 0) then 'failed'
                        else 'pending' end;
        if v_state = 'pending' then
            v_wait := p_schedule[p_attempt + 1] * (0.9 + random() * 0.2);
            if p_status in (429, 503) and p_retry_after is not null then
                v_wait := greatest(v_wait, p_retry_after);
            end if;
        end if;
    end if;
    perform 1 from promptd.webhook_deliveries x
     where x.id = p_delivery and x.attempts = p_attempt and x.state = 'sending'
       and x.locked_by = p_sender for update;
    if not found then
        return 'stale';
    end if;
    update promptd.webhook_deliveries x set state = v_state, last_status = nullif(p_status, 0),
           last_latency_ms = p_latency, last_response = left(p_response, 4096),
           last_error = p_error, last_attempt_at = now(),
           next_attempt_at = case when v_state = 'pending'
                                  then now() + make_interval(secs => v_wait) end,
           locked_by = null, locked_until = null, updated_at = now()
     where x.id = p_delivery;
    if p_status = 410 then
        perform promptd.webhook_disable(d.endpoint_id, 'the endpoint answered 410 Gone');
        return 'failed';
    end if;
    if not v_ok and e.failing_since < now() - make_interval(secs => p_disable_after) then
        perform promptd.webhook_disable(d.endpoint_id,
            'every delivery failed since ' || to_char(e.failing_since at time zone 'UTC',
                                                      'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
        return 'failed';
    end if;
    return v_state;
end
$function$;

create or replace function promptd.webhook_record_all(p_sender text, p_outcomes jsonb,
                                                      p_schedule integer[], p_disable_after integer)
 returns table(delivery uuid, attempt integer, status integer, error text, outcome text)
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    o jsonb;
begin
    for o in select x from jsonb_array_elements(p_outcomes) x
               left join promptd.webhook_deliveries d on d.id = (x ->> 'id')::uuid
              order by d.endpoint_id, d.id loop
        delivery := (o ->> 'id')::uuid;
        attempt := (o ->> 'attempt')::integer;
        status := (o ->> 'status')::integer;
        error := o ->> 'error';
        outcome := promptd.webhook_record(delivery, attempt, p_sender, status,
            (o ->> 'latency_ms')::integer, o ->> 'response', error,
            (o ->> 'retry_after')::integer, p_schedule, p_disable_after);
        return next;
    end loop;
end
$function$;
