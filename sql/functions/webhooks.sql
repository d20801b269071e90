-- webhooks.sql: outbound webhooks: endpoint policies, the outbox (events recorded in the causing transaction by triggers), fan-out, claims and outcomes of deliveries.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "Outbound webhooks").

-- Row level security on public.webhook_endpoints: a workspace's admins and
-- owners manage its endpoints; nobody else sees them.
drop policy if exists webhook_endpoints_select on public.webhook_endpoints;
create policy webhook_endpoints_select on public.webhook_endpoints for select to authenticated
    using (promptd.workspace_role_rank(promptd.workspace_role(workspace_id)) >= 3);

drop policy if exists webhook_endpoints_insert on public.webhook_endpoints;
create policy webhook_endpoints_insert on public.webhook_endpoints for insert to authenticated
    with check (created_by = (select auth.uid())
                and promptd.workspace_role_rank(promptd.workspace_role(workspace_id)) >= 3);

drop policy if exists webhook_endpoints_update on public.webhook_endpoints;
create policy webhook_endpoints_update on public.webhook_endpoints for update to authenticated
    using (promptd.workspace_role_rank(promptd.workspace_role(workspace_id)) >= 3)
    with check (promptd.workspace_role_rank(promptd.workspace_role(workspace_id)) >= 3);

drop policy if exists webhook_endpoints_delete on public.webhook_endpoints;
create policy webhook_endpoints_delete on public.webhook_endpoints for delete to authenticated
    using (promptd.workspace_role_rank(promptd.workspace_role(workspace_id)) >= 3);

-- promptd.webhook_wants(endpoint id, its events, event type, target) ->
-- whether an (enabled) endpoint gets an event: the one it targets (the
-- test ping), else one of a type it subscribes to, or "*".  The one rule
-- of webhook_emit and the fan-out.
create or replace function promptd.webhook_wants(p_id uuid, p_events text[], p_type text,
                                                 p_target uuid)
 returns boolean
 language sql
 immutable
 set search_path to ''
as $function$
    select case when p_target is null then p_type = any(p_events) or '*' = any(p_events)
                else p_id = p_target end
$function$;
revoke all on function promptd.webhook_wants(uuid,text[],text,uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.webhook_emit(workspace, type, data, endpoint) -> the event's
-- message id, or null when no enabled endpoint of the workspace wants the
-- type (nothing is written then).  The outbox row lives and dies with the
-- caller's transaction; a notification wakes the senders at its commit.
-- endpoint (the test ping) restricts the event to that one endpoint.
create or replace function promptd.webhook_emit(p_ws uuid, p_type text, p_data jsonb,
                                                p_endpoint uuid default null)
 returns text
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_msg text;
begin
    if p_ws is null or not exists (
        select 1 from public.webhook_endpoints e
         where e.workspace_id = p_ws and e.enabled
           and promptd.webhook_wants(e.id, e.events, p_type, p_endpoint)) then
        return null;
    end if;
    v_msg := 'msg_' || replace(gen_random_uuid()::text, '-', '');
    insert into promptd.webhook_events (msg_id, workspace_id, endpoint_id, type, body)
    values (v_msg, p_ws, p_endpoint, p_type,
            jsonb_build_object('type', p_type,
                'timestamp', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                'data', p_data)::text);
    perform pg_notify('promptd_webhooks', '');
    return v_msg;
end
$function$;
revoke all on function promptd.webhook_emit(uuid,text,jsonb,uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.webhook_emit(uuid,text,jsonb,uuid) to authenticated, service_role;

-- Trigger: prompt.created / prompt.updated / prompt.deleted with the
-- prompt's identity and metadata (not its content: fetch it by id).
create or replace function promptd.webhook_on_prompt()
 returns trigger
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    p public.prompts;
begin
    if tg_op = 'DELETE' then
        p := old;
    else
        p := new;
    end if;
    perform promptd.webhook_emit(p.workspace_id,
        case tg_op when 'INSERT' then 'prompt.created' when 'UPDATE' then 'prompt.updated'
                   else 'prompt.deleted' end,
        jsonb_build_object('id', p.id, 'workspace_id', p.workspace_id, 'name', p.name,
            'title', p.title, 'version', p.version, 'tags', p.tags, 'folder', p.folder,
            'created_by', p.user_id, 'actor', auth.uid(),
            'created_at', p.created_at, 'updated_at', p.updated_at));
    return null;
end
$function$;
revoke all on function promptd.webhook_on_prompt() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Trigger: enrichment.completed / enrichment.failed when an enrichment
-- reaches its end (inserted finished, or finished later).  It goes to the
-- prompt's workspace when it names one, else to the user's personal one.
create or replace function promptd.webhook_on_enrichment()
 returns trigger
 language plpgsql
 security definer
 set search_path to ''
as $function$
begin
    if new.status not in ('done', 'failed')
       or (tg_op = 'UPDATE' and old.status in ('done', 'failed')) then
        return null;
    end if;
    perform promptd.webhook_emit(
        coalesce((select p.workspace_id from public.prompts p where p.id = new.prompt_id),
                 promptd.personal_workspace(new.user_id)),
        case when new.status = 'done' and new.outcome is distinct from 'failed'
             then 'enrichment.completed' else 'enrichment.failed' end,
        jsonb_strip_nulls(jsonb_build_object('id', new.id, 'user_id', new.user_id,
            'mode', new.mode, 'prompt_id', new.prompt_id, 'prompt_version', new.prompt_version,
            'provider', new.provider, 'model', new.model, 'cached', new.cached,
            'async', new.async, 'latency_ms', new.latency_ms, 'error', new.error,
            'created_at', new.created_at, 'finished_at', new.finished_at)));
    return null;
end
$function$;
revoke all on function promptd.webhook_on_enrichment() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Trigger: share.created on a new link; share.forked per fork; share.viewed
-- per batch of views the views job folds in (views: the new ones).
create or replace function promptd.webhook_on_share()
 returns trigger
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_data jsonb := jsonb_build_object('id', new.id, 'prompt_id', new.prompt_id,
        'workspace_id', new.workspace_id, 'public', new.public, 'expires_at', new.expires_at,
        'total_views', new.views, 'unique_viewers', new.unique_viewers, 'forks', new.forks);
begin
    if tg_op = 'INSERT' then
        perform promptd.webhook_emit(new.workspace_id, 'share.created',
            v_data || jsonb_build_object('created_by', new.user_id, 'created_at', new.created_at));
        return null;
    end if;
    if new.forks > old.forks then
        perform promptd.webhook_emit(new.workspace_id, 'share.forked',
            v_data || jsonb_build_object('forked_by', auth.uid()));
    end if;
    if new.views > old.views then
        perform promptd.webhook_emit(new.workspace_id, 'share.viewed',
            v_data || jsonb_build_object('views', new.views - old.views,
                                         'last_viewed_at', new.last_viewed_at));
    end if;
    return null;
end
$function$;
revoke all on function promptd.webhook_on_share() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Trigger: billing.payment_failed (from the account's activity record of a
-- failed invoice payment) and billing.subscription_changed (status, tier,
-- interval or cancellation changed), to the user's personal workspace.
create or replace function promptd.webhook_on_billing()
 returns trigger
 language plpgsql
 security definer
 set search_path to ''
as $function$
begin
    if tg_table_name = 'account_activity' then
        if new.kind = 'billing.payment_failed' then
            perform promptd.webhook_emit(promptd.personal_workspace(new.user_id),
                'billing.payment_failed',
                new.detail || jsonb_build_object('user_id', new.user_id, 'stripe_event', new.event_id));
        end if;
    elsif tg_op = 'INSERT' or (old.status, old.tier, old.billing_interval, old.cancel_at_period_end)
          is distinct from (new.status, new.tier, new.billing_interval, new.cancel_at_period_end) then
        perform promptd.webhook_emit(promptd.personal_workspace(new.user_id),
            'billing.subscription_changed',
            jsonb_build_object('user_id', new.user_id, 'subscription', new.id,
                'status', new.status, 'tier', new.tier, 'interval', new.billing_interval,
                'cancel_at_period_end', new.cancel_at_period_end,
                'current_period_end', new.current_period_end,
                'previous', case when tg_op = 'UPDATE' then jsonb_build_object(
                    'status', old.status, 'tier', old.tier) end));
    end if;
    return null;
end
$function$;
revoke all on function promptd.webhook_on_billing() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.webhook_endpoint_json(endpoint) -> the API's view of an endpoint
-- (never its secret).
create or replace function promptd.webhook_endpoint_json(p_e public.webhook_endpoints)
 returns jsonb
 language sql
 stable
 set search_path to ''
as $function$
    select jsonb_build_object('id', p_e.id, 'workspace_id', p_e.workspace_id,
        'url', p_e.url, 'description', p_e.description, 'events', p_e.events,
        'enabled', p_e.enabled,
        'status', case when not p_e.enabled then 'disabled'
                       when p_e.failing_since is not null then 'failing' else 'active' end,
        'disabled_reason', p_e.disabled_reason, 'disabled_at', p_e.disabled_at,
        'failing_since', p_e.failing_since, 'last_success_at', p_e.last_success_at,
        'previous_secret_expires_at',
            case when p_e.previous_secret_until > now() then p_e.previous_secret_until end,
        'created_by', p_e.created_by, 'created_at', p_e.created_at, 'updated_at', p_e.updated_at)
$function$;
revoke all on function promptd.webhook_endpoint_json(public.webhook_endpoints) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.webhook_endpoint_json(public.webhook_endpoints) to authenticated;

-- promptd.webhook_delivery_json(delivery, event) -> the delivery log's view
-- of one delivery.
create or replace function promptd.webhook_delivery_json(p_d promptd.webhook_deliveries,
                                                         p_ev promptd.webhook_events)
 returns jsonb
 language sql
 stable
 set search_path to ''
as $function$
    select jsonb_build_object('id', p_d.id, 'endpoint_id', p_d.endpoint_id,
        'event_id', p_ev.msg_id, 'event_type', p_ev.type, 'status', p_d.state,
        'attempts', p_d.attempts, 'response_status', p_d.last_status,
        'latency_ms', p_d.last_latency_ms, 'response_body', p_d.last_response,
        'error', p_d.last_error, 'last_attempt_at', p_d.last_attempt_at,
        'next_attempt_at', case when p_d.state = 'pending' then p_d.next_attempt_at end,
        'redelivery_of', p_d.redelivery_of, 'created_at', p_d.created_at)
$function$;
revoke all on function promptd.webhook_delivery_json(promptd.webhook_deliveries,promptd.webhook_events) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.webhook_delivery_json(promptd.webhook_deliveries,promptd.webhook_events) to authenticated;

-- promptd.webhook_deliveries_list(endpoint, status, limit, before) ->
-- {items, next_before}: the endpoint's deliveries, newest first (admins
-- and owners of its workspace; else PW404).  before: a delivery id from an
-- earlier page.
create or replace function promptd.webhook_deliveries_list(p_endpoint uuid, p_status text,
                                                           p_limit integer, p_before uuid)
 returns jsonb
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
declare
    v_ws uuid;
    v_items jsonb;
    v_last uuid;
    v_at timestamptz;
begin
    select e.workspace_id into v_ws from public.webhook_endpoints e where e.id = p_endpoint;
    if v_ws is null or promptd.workspace_role_rank(promptd.workspace_role(v_ws)) < 3 then
        raise exception 'No such webhook endpoint.' using errcode = 'PW404';
    end if;
    select d.created_at into v_at from promptd.webhook_deliveries d
     where d.id = p_before and d.endpoint_id = p_endpoint;
    select coalesce(jsonb_agg(x.j order by x.created_at desc, x.id desc), '[]'::jsonb),
           (array_agg(x.id order by x.created_at, x.id))[1]
      into v_items, v_last
      from (select promptd.webhook_delivery_json(d, ev) as j, d.created_at, d.id
              from promptd.webhook_deliveries d
              join promptd.webhook_events ev on ev.id = d.event_id
             where d.endpoint_id = p_endpoint
               and (p_status is null or d.state = p_status)
               and (v_at is null or (d.created_at, d.id) < (v_at, p_before))
             order by d.created_at desc, d.id desc
             limit p_limit) x;
    return jsonb_build_object('items', v_items,
        'next_before', case when jsonb_array_length(v_items) = p_limit then v_last end);
end
$function$;
revoke all on function promptd.webhook_deliveries_list(uuid,text,integer,uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.webhook_deliveries_list(uuid,text,integer,uuid) to authenticated;

-- promptd.webhook_redeliver(delivery) -> the new delivery: the same event
-- (same webhook-id) sent again to its endpoint, now (admins and owners;
-- PW404 otherwise; PW409 when the endpoint is disabled).
create or replace function promptd.webhook_redeliver(p_delivery uuid)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    d promptd.webhook_deliveries;
    ev promptd.webhook_events;
    v_enabled boolean;
begin
    select * into d from promptd.webhook_deliveries x where x.id = p_delivery;
    if d.id is null or promptd.workspace_role_rank(promptd.workspace_role(d.workspace_id)) < 3 then
        raise exception 'No such webhook delivery.' using errcode = 'PW404';
    end if;
    select e.enabled into v_enabled from public.webhook_endpoints e where e.id = d.endpoint_id;
    if not v_enabled then
        raise exception 'The endpoint is disabled; enable it first.' using errcode = 'PW409';
    end if;
    insert into promptd.webhook_deliveries (event_id, endpoint_id, workspace_id, redelivery_of)
    values (d.event_id, d.endpoint_id, d.workspace_id, d.id)
    returning * into d;
    select * into ev from promptd.webhook_events x where x.id = d.event_id;
    perform pg_notify('promptd_webhooks', '');
    return promptd.webhook_delivery_json(d, ev);
end
$function$;
revoke all on function promptd.webhook_redeliver(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.webhook_redeliver(uuid) to authenticated;

-- promptd.webhook_claim(sender, max, per_endpoint, lease_s) -> deliveries
-- to send now, marked sending under sender's lease (one attempt counted
-- each): first the outbox is fanned out to the endpoints each event
-- matches (at their state now), and deliveries whose sender's lease ran
-- out go back to pending.  At most per_endpoint deliveries of one endpoint
-- are in flight at once, across every sender (claims run one at a time,
-- under one advisory lock).  A delivery another transaction holds (its
-- endpoint's deletion or webhook_disable, which lock the endpoint and then
-- its deliveries, or a sender's record) is skipped, not waited for: a
-- claim holding one delivery of an endpoint never waits for another, so
-- it cannot deadlock with those.  The secrets come sealed (AAD
-- "webhook_endpoints.secret:<endpoint id>"); previous_secret while a
-- rotation's overlap lasts.  For promptd-jobs (service_role).
create or replace function promptd.webhook_claim(p_sender text, p_max integer,
                                                 p_per_endpoint integer, p_lease integer)
 returns table(delivery uuid, attempt integer, endpoint uuid, url text, secret text,
               previous_secret text, msg_id text, body text)
 language plpgsql
 security definer
 set search_path to ''
as $function$
begin
    perform pg_advisory_xact_lock(hashtextextended('promptd.webhook_claim', 0));
    with ev as (
        select x.id, x.workspace_id, x.endpoint_id, x.type from promptd.webhook_events x
         where not x.fanned_out order by x.id limit 1000 for update),
    ins as (
        insert into promptd.webhook_deliveries (event_id, endpoint_id, workspace_id)
        select ev.id, e.id, ev.workspace_id from ev
          join public.webhook_endpoints e on e.workspace_id = ev.workspace_id and e.enabled
           and promptd.webhook_wants(e.id, e.events, ev.type, ev.endpoint_id)
        returning 1)
    update promptd.webhook_events x set fanned_out = true from ev where x.id = ev.id;

    update promptd.webhook_deliveries d set state = 'pending', next_attempt_at = now(),
           locked_by = null, locked_until = null, updated_at = now(),
           last_error = 'the sender stopped before an answer (' || coalesce(d.locked_by, '?') || ')'
     where d.id in (select x.id from promptd.webhook_deliveries x
                     where x.state = 'sending' and x.locked_until < now() for update skip locked);

    return query
    with busy as (
        select d.endpoint_id, count(*) as n from promptd.webhook_deliveries d
         where d.state = 'sending' group by d.endpoint_id),
    due as (
        select d.id, row_number() over (partition by d.endpoint_id
                                        order by d.next_attempt_at, d.id) as rn,
               coalesce(b.n, 0) as n, d.next_attempt_at
          from promptd.webhook_deliveries d
          join public.webhook_endpoints e on e.id = d.endpoint_id and e.enabled
          left join busy b on b.endpoint_id = d.endpoint_id
         where d.state = 'pending' and d.next_attempt_at <= now()),
    pick as (
        select due.id from due where due.rn + due.n <= p_per_endpoint
         order by due.next_attempt_at, due.id limit p_max),
    mine as (
        select d.id from promptd.webhook_deliveries d
         where d.id in (select pick.id from pick) and d.state = 'pending'
           for update of d skip locked),
    claimed as (
        update promptd.webhook_deliveries d set state = 'sending', attempts = d.attempts + 1,
               locked_by = p_sender, locked_until = now() + make_interval(secs => p_lease),
               updated_at = now()
          from mine where d.id = mine.id
        returning d.id, d.attempts, d.endpoint_id, d.event_id)
    select c.id, c.attempts, e.id, e.url, e.secret_sealed,
           case when e.previous_secret_until > now() then e.previous_secret_sealed end,
           ev.msg_id, ev.body
      from claimed c
      join public.webhook_endpoints e on e.id = c.endpoint_id
      join promptd.webhook_events ev on ev.id = c.event_id;
end
$function$;
revoke all on function promptd.webhook_claim(text,integer,integer,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.webhook_claim(text,integer,integer,integer) to service_role;

-- promptd.webhook_disable(endpoint, reason): the endpoint stops (enabled
-- false, the reason and time kept), its waiting deliveries fail, and the
-- workspace hears of it (webhook.disabled to its other endpoints).
create or replace function promptd.webhook_disable(p_endpoint uuid, p_reason text)
 returns void
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    e public.webhook_endpoints;
begin
    update public.webhook_endpoints x set enabled = false, disabled_reason = p_reason,
           disabled_at = now(), updated_at = now()
     where x.id = p_endpoint and x.enabled returning * into e;
    if e.id is null then
        return;
    end if;
    update promptd.webhook_deliveries d set state = 'failed', next_attempt_at = null,
           last_error = 'endpoint disabled: ' || p_reason, updated_at = now()
     where d.endpoint_id = p_endpoint and d.state = 'pending';
    perform promptd.webhook_emit(e.workspace_id, 'webhook.disabled',
        jsonb_build_object('endpoint_id', e.id, 'url', e.url, 'reason', p_reason,
                           'failing_since', e.failing_since, 'disabled_at', e.disabled_at));
end
$function$;
revoke all on function promptd.webhook_disable(uuid,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.webhook_record(delivery, attempt, sender, status, latency_ms,
-- response, error, retry_after_s, schedule, disable_after_s) -> the
-- delivery's state after this attempt (succeeded, pending, failed), or
-- 'stale' when the attempt is no longer this sender's.  status: the HTTP
-- status, 0 when none arrived (error says why).  A 2xx succeeds; 410 Gone
-- disables the endpoint at once; otherwise the next attempt waits
-- schedule[attempt + 1] seconds with 10 % jitter (at least Retry-After on
-- 429 and 503), and an endpoint that has failed every attempt for
-- disable_after_s seconds is disabled.  Past the schedule: failed.
-- Locks the endpoint before the delivery, the order of an endpoint's
-- deletion (its row, then its deliveries by the cascade) and of
-- webhook_disable; webhook_record_all takes the endpoints in order.  A
-- delivery that stops being this sender's between the first look and its
-- lock is stale too: the endpoint's health still counts the attempt.
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
revoke all on function promptd.webhook_record(uuid,integer,text,integer,integer,text,text,integer,integer[],integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.webhook_record(uuid,integer,text,integer,integer,text,text,integer,integer[],integer) to service_role;

-- promptd.webhook_record_all(sender, outcomes, schedule, disable_after)
-- -> per outcome (delivery, attempt, status, error, outcome): every
-- attempt a sender finished, recorded by webhook_record in one statement.
-- outcomes: [{id, attempt, status, latency_ms, response?, error?,
-- retry_after?}].  In the order of their endpoints (then deliveries), so
-- that senders recording at once lock endpoints in one order.  For
-- promptd-jobs (service_role).
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
revoke all on function promptd.webhook_record_all(text,jsonb,integer[],integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.webhook_record_all(text,jsonb,integer[],integer) to service_role;

-- promptd.webhook_next_due(per_endpoint) -> seconds until the earliest
-- waiting delivery a claim could take is due: of an enabled endpoint with
-- fewer than per_endpoint in flight (0 when one is due now or an event
-- waits to be fanned out); null when there is none.  How long a sender may
-- sleep: a delivery held back by its endpoint's bound is claimed when one
-- in flight ends, not by polling.
create or replace function promptd.webhook_next_due(p_per_endpoint integer)
 returns double precision
 language sql
 stable security definer
 set search_path to ''
as $function$
    select case when exists (select 1 from promptd.webhook_events x where not x.fanned_out) then 0
           else (select greatest(0, extract(epoch from n.due - now()))   -- null: none due
                   from (select min(d.next_attempt_at) as due from promptd.webhook_deliveries d
                           join public.webhook_endpoints e on e.id = d.endpoint_id and e.enabled
                          where d.state = 'pending'
                            and (select count(*) from promptd.webhook_deliveries f
                                  where f.endpoint_id = d.endpoint_id and f.state = 'sending')
                                < p_per_endpoint) n
                  where n.due is not null) end
$function$;
revoke all on function promptd.webhook_next_due(integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.webhook_next_due(integer) to service_role;

-- promptd.webhook_purge(retention_s, batch) -> {webhook_deliveries,
-- webhook_events}: finished deliveries older than the retention, then
-- events fanned out that long ago with no delivery left.
create or replace function promptd.webhook_purge(p_retention integer, p_batch integer)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    n_del bigint;
    n_ev bigint;
begin
    delete from promptd.webhook_deliveries d
     where d.id in (select x.id from promptd.webhook_deliveries x
                     where x.state in ('succeeded', 'failed')
                       and x.updated_at < now() - make_interval(secs => p_retention)
                     limit p_batch);
    get diagnostics n_del = row_count;
    delete from promptd.webhook_events ev
     where ev.id in (select x.id from promptd.webhook_events x
                      where x.fanned_out and x.created_at < now() - make_interval(secs => p_retention)
                        and not exists (select 1 from promptd.webhook_deliveries d where d.event_id = x.id)
                      limit p_batch);
    get diagnostics n_ev = row_count;
    return jsonb_build_object('webhook_deliveries', n_del, 'webhook_events', n_ev);
end
$function$;
revoke all on function promptd.webhook_purge(integer,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.webhook_purge(integer,integer) to service_role;
