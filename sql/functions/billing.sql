-- billing.sql: billing (issue 14): the plans on sale, Stripe events stored once and applied in order, subscriptions, invoices, customers, the tier they give, notices.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "Billing").
--
-- Stripe is the truth.  An event is stored once (promptd.stripe_events,
-- unique id) by the webhook and applied by the jobs daemon in one
-- statement (one transaction).  Subscriptions never move backwards: an
-- event older than the last one applied to the subscription is ignored
-- (ties go to the later status in the lifecycle), and a canceled or
-- expired subscription stays so.

-- promptd.billing_plans(): the purchasable plans with their prices and
-- limits, cheapest first, for the public pricing page.
create or replace function promptd.billing_plans()
 returns jsonb
 language sql
 stable security definer
 set search_path to ''
as $function$
    select jsonb_build_object('items', coalesce(jsonb_agg(jsonb_build_object(
               'tier', pl.tier, 'name', pl.name, 'limits', pl.limits,
               'prices', jsonb_strip_nulls(jsonb_build_object(
                   'monthly', pl.stripe_price_monthly, 'yearly', pl.stripe_price_yearly)))
             order by pl.sort_order), '[]'::jsonb))
      from public.plans pl
     where pl.purchasable
$function$;
revoke all on function promptd.billing_plans() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.billing_plans() to anon, authenticated, service_role, promptd_app;

-- promptd.billing_plan_update(tier, patch): set a plan's Stripe prices
-- and whether it is on sale from {monthly?: price|null, yearly?:
-- price|null, purchasable?: bool}; the plan's billing {tier, purchasable,
-- monthly, yearly}, or null when there is no such plan.  Admins (the API,
-- through the worker role) or the operator (promptctl, no claims);
-- audited plan.billing.  22023 for a bad patch, 23505 for a price another
-- plan has.
create or replace function promptd.billing_plan_update(p_tier text, p_patch jsonb)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_plan public.plans;
    v_key  text;
begin
    if auth.uid() is not null and not promptd.is_admin() then
        raise exception 'billing_plan_update: admins only' using errcode = '42501';
    end if;
    if jsonb_typeof(p_patch) is distinct from 'object' then
        raise exception 'the patch must be an object' using errcode = '22023';
    end if;
    for v_key in select jsonb_object_keys(p_patch) loop
        if v_key not in ('monthly', 'yearly', 'purchasable') then
            raise exception '% is not monthly, yearly or purchasable', v_key using errcode = '22023';
        elsif v_key = 'purchasable' and jsonb_typeof(p_patch -> v_key) <> 'boolean' then
            raise exception 'purchasable must be true or false' using errcode = '22023';
        elsif v_key <> 'purchasable' and jsonb_typeof(p_patch -> v_key) <> 'null'
              and (jsonb_typeof(p_patch -> v_key) <> 'string'
                   or p_patch ->> v_key !~ '^[A-Za-z0-9_]{1,255}$') then
            raise exception '% must be a Stripe price id (letters, digits, _) or null', v_key
                using errcode = '22023';
        end if;
    end loop;
    update public.plans pl
       set stripe_price_monthly = case when p_patch ? 'monthly' then p_patch ->> 'monthly'
                                       else pl.stripe_price_monthly end,
           stripe_price_yearly = case when p_patch ? 'yearly' then p_patch ->> 'yearly'
                                      else pl.stripe_price_yearly end,
           purchasable = coalesce((p_patch ->> 'purchasable')::boolean, pl.purchasable)
     where pl.tier = p_tier
    returning * into v_plan;
    if v_plan.tier is null then
        return null;
    end if;
    perform promptd.audit('plan.billing', 'plan:' || p_tier, 'success',
        jsonb_build_object('patch', p_patch,
            'via', case when auth.uid() is null then 'promptctl' else 'api' end), null);
    return jsonb_build_object('tier', v_plan.tier, 'purchasable', v_plan.purchasable,
        'monthly', v_plan.stripe_price_monthly, 'yearly', v_plan.stripe_price_yearly);
end
$function$;
revoke all on function promptd.billing_plan_update(text,jsonb) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.billing_plan_update(text,jsonb) to service_role, promptd_app;

-- promptd.billing_price_tier(price) -> (tier, interval) of a Stripe
-- price, no row when no plan sells it.
create or replace function promptd.billing_price_tier(p_price text, out tier text, out billing_interval text)
 returns record
 language sql
 stable
 set search_path to ''
as $function$
    select pl.tier, case when pl.stripe_price_monthly = p_price then 'monthly' else 'yearly' end
      from public.plans pl
     where p_price is not null
       and (pl.stripe_price_monthly = p_price or pl.stripe_price_yearly = p_price)
     limit 1
$function$;
revoke all on function promptd.billing_price_tier(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.billing_price_tier(text) to service_role, promptd_app;

-- promptd.billing_event_store(id, type, created, livemode, payload): a
-- verified webhook event, stored once and its job enqueued; 'stored', or
-- 'duplicate' when the id is known (nothing changes).
create or replace function promptd.billing_event_store(p_id text, p_type text, p_created bigint, p_payload jsonb)
 returns text
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_job bigint;
begin
    insert into promptd.stripe_events (id, type, created, payload)
    values (p_id, p_type, p_created, p_payload)
    on conflict (id) do nothing;
    if not found then
        return 'duplicate';
    end if;
    v_job := promptd.enqueue('billing.event', jsonb_build_object('event_id', p_id),
                             'default', now(), 0, 10, 'stripe:' || p_id);
    update promptd.stripe_events set job_id = v_job where id = p_id;
    return 'stored';
end
$function$;
revoke all on function promptd.billing_event_store(text,text,bigint,jsonb) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.billing_event_store(text,text,bigint,jsonb) to service_role, promptd_app;

-- promptd.billing_status_rank(status): where a status lies in the
-- lifecycle, to break ties between events of the same second.
create or replace function promptd.billing_status_rank(p_status text)
 returns integer
 language sql
 immutable
 set search_path to ''
as $function$
    select case p_status when 'incomplete' then 0 when 'trialing' then 1
        when 'active' then 2 when 'past_due' then 3 when 'unpaid' then 4
        when 'paused' then 4 when 'incomplete_expired' then 9
        when 'canceled' then 9 else 0 end
$function$;
revoke all on function promptd.billing_status_rank(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.billing_user_tier(user, grace): the tier the user's
-- subscriptions give now: the best plan among those active or trialing,
-- or past_due for less than grace; 'free' when none.
create or replace function promptd.billing_user_tier(p_user uuid, p_grace interval)
 returns text
 language sql
 stable
 set search_path to ''
as $function$
    select coalesce((select s.tier
                       from promptd.billing_subscriptions s
                       join public.plans pl on pl.tier = s.tier
                      where s.user_id = p_user and s.tier is not null
                        and (s.status in ('active', 'trialing')
                             or (s.status = 'past_due'
                                 and coalesce(s.past_due_since, now()) + p_grace > now()))
                      order by pl.sort_order desc
                      limit 1), 'free')
$function$;
revoke all on function promptd.billing_user_tier(uuid,interval) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.billing_retier(user, grace, event): set the user's tier to what
-- their subscriptions give (quotas read it at once); a change is audited
-- with the event id.  Returns the tier.
create or replace function promptd.billing_retier(p_user uuid, p_grace interval, p_event text)
 returns text
 language plpgsql
 set search_path to ''
as $function$
declare
    v_old text;
    v_new text := promptd.billing_user_tier(p_user, p_grace);
begin
    -- a user known only to auth.users (e.g. migrated from Supabase) gets
    -- the profile the tier lives on
    insert into public.profiles (id, email)
    select u.id, u.email from auth.users u where u.id = p_user
    on conflict (id) do nothing;
    select p.subscription_tier into v_old from public.profiles p where p.id = p_user for update;
    if not found or v_old = v_new then
        return v_new;
    end if;
    update public.profiles p set subscription_tier = v_new where p.id = p_user;
    perform promptd.audit('billing.tier', p_user::text, 'success',
        jsonb_build_object('from', v_old, 'to', v_new, 'event_id', p_event), p_user);
    return v_new;
end
$function$;
revoke all on function promptd.billing_retier(uuid,interval,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.billing_customer_user(customer, metadata): the user a Stripe
-- customer belongs to: the stored link, else metadata.promptd_user_id of
-- an existing user (then linked).  Null when unknown.
create or replace function promptd.billing_customer_user(p_customer text, p_meta jsonb)
 returns uuid
 language plpgsql
 set search_path to ''
as $function$
declare
    v_user uuid;
    v_meta text := p_meta ->> 'promptd_user_id';
begin
    select c.user_id into v_user from promptd.billing_customers c where c.customer_id = p_customer;
    if v_user is not null or p_customer is null
       or v_meta !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
        return v_user;
    end if;
    select u.id into v_user from auth.users u where u.id = v_meta::uuid;
    if v_user is not null then
        insert into promptd.billing_customers (user_id, customer_id) values (v_user, p_customer)
        on conflict do nothing;
    end if;
    return v_user;
end
$function$;
revoke all on function promptd.billing_customer_user(text,jsonb) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.billing_apply_subscription(sub, created, user?): the
-- subscription object of an event created at 'created' (epoch s), unless
-- older than what is stored or after a final state; returns its user.
create or replace function promptd.billing_apply_subscription(p_sub jsonb, p_created bigint, p_user uuid)
 returns uuid
 language plpgsql
 set search_path to ''
as $function$
declare
    v_old    promptd.billing_subscriptions;
    v_user   uuid := coalesce(p_user, promptd.billing_customer_user(p_sub ->> 'customer', p_sub -> 'metadata'));
    v_status text := p_sub ->> 'status';
    v_price  text := p_sub #>> '{items,data,0,price,id}';
    v_pt     record;
begin
    if v_user is null or p_sub ->> 'id' is null then
        return null;
    end if;
    select * into v_old from promptd.billing_subscriptions s where s.id = p_sub ->> 'id' for update;
    if found and (v_old.status in ('canceled', 'incomplete_expired')
                  or p_created < v_old.event_created
                  or (p_created = v_old.event_created
                      and promptd.billing_status_rank(v_status) < promptd.billing_status_rank(v_old.status))) then
        return v_user;
    end if;
    select * into v_pt from promptd.billing_price_tier(v_price);
    insert into promptd.billing_subscriptions as s (id, user_id, customer_id, status, price_id,
        tier, billing_interval, current_period_end, cancel_at_period_end, past_due_since,
        payment_method, event_created, updated_at)
    values (p_sub ->> 'id', v_user, p_sub ->> 'customer', v_status, v_price, v_pt.tier,
        v_pt.billing_interval,
        to_timestamp(coalesce(p_sub ->> 'current_period_end',
                              p_sub #>> '{items,data,0,current_period_end}')::double precision),
        coalesce((p_sub ->> 'cancel_at_period_end')::boolean, false),
        case when v_status = 'past_due' then to_timestamp(p_created) end,
        case when jsonb_typeof(p_sub -> 'default_payment_method') = 'object'
             then jsonb_strip_nulls(jsonb_build_object(
                 'brand', p_sub #>> '{default_payment_method,card,brand}',
                 'last4', p_sub #>> '{default_payment_method,card,last4}',
                 'exp_month', p_sub #> '{default_payment_method,card,exp_month}',
                 'exp_year', p_sub #> '{default_payment_method,card,exp_year}')) end,
        p_created, now())
    on conflict (id) do update set
        status = excluded.status, price_id = excluded.price_id, tier = excluded.tier,
        billing_interval = excluded.billing_interval,
        current_period_end = excluded.current_period_end,
        cancel_at_period_end = excluded.cancel_at_period_end,
        past_due_since = case when excluded.status = 'past_due'
                              then coalesce(s.past_due_since, excluded.past_due_since) end,
        payment_method = coalesce(excluded.payment_method, s.payment_method),
        event_created = excluded.event_created, updated_at = now();
    return v_user;
end
$function$;
revoke all on function promptd.billing_apply_subscription(jsonb,bigint,uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.billing_apply_invoice(event, kind): an invoice event: the
-- invoice kept for GET /api/v1/billing; a failed payment or one needing
-- action leaves a notice in the account's activity (dunning); a paid
-- invoice ends a past_due state no newer event contradicts.
create or replace function promptd.billing_apply_invoice(p_event promptd.stripe_events)
 returns uuid
 language plpgsql
 set search_path to ''
as $function$
declare
    v_inv  jsonb := p_event.payload #> '{data,object}';
    v_user uuid := promptd.billing_customer_user(v_inv ->> 'customer', v_inv -> 'metadata');
    v_sub  text := coalesce(v_inv ->> 'subscription',
                            v_inv #>> '{parent,subscription_details,subscription}');
begin
    if v_user is null or v_inv ->> 'id' is null then
        return null;
    end if;
    insert into promptd.billing_invoices as i (id, user_id, subscription_id, number, amount_due,
        amount_paid, currency, status, hosted_invoice_url, created, event_created)
    values (v_inv ->> 'id', v_user, v_sub, v_inv ->> 'number', (v_inv ->> 'amount_due')::bigint,
        (v_inv ->> 'amount_paid')::bigint, v_inv ->> 'currency', v_inv ->> 'status',
        v_inv ->> 'hosted_invoice_url', to_timestamp((v_inv ->> 'created')::double precision),
        p_event.created)
    on conflict (id) do update set number = excluded.number, amount_due = excluded.amount_due,
        amount_paid = excluded.amount_paid, status = excluded.status,
        hosted_invoice_url = excluded.hosted_invoice_url, event_created = excluded.event_created
     where i.event_created <= excluded.event_created and i.status is distinct from 'paid';
    if p_event.type = 'invoice.paid' then
        update promptd.billing_subscriptions s
           set status = 'active', past_due_since = null, event_created = p_event.created, updated_at = now()
         where s.id = v_sub and s.status in ('past_due', 'unpaid') and s.event_created <= p_event.created;
    elsif p_event.type = 'invoice.payment_failed' then
        update promptd.billing_subscriptions s
           set status = 'past_due', past_due_since = coalesce(s.past_due_since, to_timestamp(p_event.created)),
               event_created = p_event.created, updated_at = now()
         where s.id = v_sub and s.status in ('active', 'trialing') and s.event_created <= p_event.created;
    end if;
    if p_event.type in ('invoice.payment_failed', 'invoice.payment_action_required') then
        insert into promptd.account_activity (user_id, kind, event_id, detail)
        values (v_user, case p_event.type when 'invoice.payment_failed' then 'billing.payment_failed'
                    else 'billing.payment_action_required' end, p_event.id,
                jsonb_strip_nulls(jsonb_build_object('invoice', v_inv ->> 'id',
                    'number', v_inv ->> 'number', 'amount_due', v_inv -> 'amount_due',
                    'currency', v_inv ->> 'currency', 'hosted_invoice_url', v_inv ->> 'hosted_invoice_url',
                    'next_payment_attempt', v_inv -> 'next_payment_attempt')))
        on conflict do nothing;
    end if;
    return v_user;
end
$function$;
revoke all on function promptd.billing_apply_invoice(promptd.stripe_events) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.billing_apply_event(id, grace_s): apply a stored event (the
-- billing.event job), then retier its user.  Applying twice changes
-- nothing.  Returns what happened: 'applied', 'unknown user', 'ignored
-- type', 'already applied', 'no such event'.
create or replace function promptd.billing_apply_event(p_id text, p_grace_s bigint)
 returns text
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_ev   promptd.stripe_events;
    v_obj  jsonb;
    v_user uuid;
    v_out  text := 'applied';
begin
    select * into v_ev from promptd.stripe_events e where e.id = p_id for update;
    if not found then
        return 'no such event';
    elsif v_ev.processed_at is not null then
        return 'already applied';
    end if;
    v_obj := v_ev.payload #> '{data,object}';
    if v_ev.type = 'checkout.session.completed' then
        v_user := promptd.billing_customer_user(v_obj ->> 'customer',
            jsonb_build_object('promptd_user_id', coalesce(v_obj ->> 'client_reference_id',
                                                           v_obj #>> '{metadata,promptd_user_id}')));
        if v_user is not null and v_obj ->> 'subscription' is not null then
            insert into promptd.billing_subscriptions (id, user_id, customer_id, status, event_created)
            values (v_obj ->> 'subscription', v_user, v_obj ->> 'customer', 'incomplete', 0)
            on conflict (id) do nothing;
        end if;
    elsif v_ev.type in ('customer.subscription.created', 'customer.subscription.updated',
                        'customer.subscription.deleted', 'customer.subscription.paused',
                        'customer.subscription.resumed') then
        v_user := promptd.billing_apply_subscription(v_obj, v_ev.created, null);
    elsif v_ev.type in ('invoice.paid', 'invoice.payment_failed', 'invoice.payment_action_required') then
        v_user := promptd.billing_apply_invoice(v_ev);
    elsif v_ev.type = 'customer.deleted' then
        select c.user_id into v_user from promptd.billing_customers c where c.customer_id = v_obj ->> 'id';
        update promptd.billing_subscriptions s set status = 'canceled', event_created = v_ev.created,
               updated_at = now()
         where s.customer_id = v_obj ->> 'id' and s.status not in ('canceled', 'incomplete_expired');
        update promptd.billing_customers c set deleted_at = now() where c.customer_id = v_obj ->> 'id';
    else
        v_out := 'ignored type';
    end if;
    if v_user is not null then
        perform promptd.billing_retier(v_user, make_interval(secs => p_grace_s), v_ev.id);
    elsif v_out = 'applied' then
        v_out := 'unknown user';
    end if;
    update promptd.stripe_events e set processed_at = now(), outcome = v_out, user_id = v_user
     where e.id = p_id;
    return v_out;
end
$function$;
revoke all on function promptd.billing_apply_event(text,bigint) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.billing_apply_event(text,bigint) to service_role;

-- promptd.billing_grace_sweep(grace_s): retier every user whose past_due
-- grace has run out (the billing.grace task); returns how many changed.
-- Every profile it may change is locked (in id order) before the first
-- audit row takes the audit chain's head, as a single request locks its
-- rows before auditing: holding the head while waiting for a profile that
-- a request holds until it audits (an account's deletion) would deadlock.
create or replace function promptd.billing_grace_sweep(p_grace_s bigint)
 returns integer
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_users uuid[];
    v_user  uuid;
    v_n     integer := 0;
begin
    select coalesce(array_agg(x.id order by x.id), '{}') into v_users
      from (select p.id from public.profiles p
             where p.subscription_tier is distinct from 'free'
               and exists (select 1 from promptd.billing_subscriptions s
                            where s.user_id = p.id and s.status = 'past_due'
                              and s.past_due_since + make_interval(secs => p_grace_s) <= now())
             order by p.id
             limit 1000
               for update of p) x;
    foreach v_user in array v_users
    loop
        if promptd.billing_retier(v_user, make_interval(secs => p_grace_s), 'grace-expired') = 'free' then
            v_n := v_n + 1;
        end if;
    end loop;
    return v_n;
end
$function$;
revoke all on function promptd.billing_grace_sweep(bigint) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.billing_grace_sweep(bigint) to service_role;

-- promptd.billing_customer_of(user) -> (customer_id, deleted): the user's
-- Stripe customer link, live or deleted (customer.deleted); no row when
-- none was ever made.  Takes no lock: checkout calls Stripe with no
-- transaction open, and the customer's Idempotency-Key (the user's, and
-- the deleted customer's id when there is one) makes concurrent creations
-- one customer.
create or replace function promptd.billing_customer_of(p_user uuid)
 returns table (customer_id text, deleted boolean)
 language sql
 stable security definer
 set search_path to ''
as $function$
    select c.customer_id, c.deleted_at is not null
      from promptd.billing_customers c where c.user_id = p_user;
$function$;
revoke all on function promptd.billing_customer_of(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.billing_customer_of(uuid) to service_role, promptd_app;

-- promptd.billing_customer_set(user, customer): link the customer Stripe
-- created for the user; returns the live link.  The first link wins (a
-- concurrent checkout's same customer changes nothing); a link whose
-- customer was deleted is replaced.  A customer id already linked to
-- another user is not taken: the result is then that user's own link or
-- null.
create or replace function promptd.billing_customer_set(p_user uuid, p_customer text)
 returns text
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_id text;
begin
    begin
        insert into promptd.billing_customers (user_id, customer_id) values (p_user, p_customer)
        on conflict (user_id) do update
           set customer_id = excluded.customer_id, created_at = now(), deleted_at = null
         where promptd.billing_customers.deleted_at is not null;
    exception when unique_violation then
        null;   /* customer_id is another user's */
    end;
    select c.customer_id into v_id from promptd.billing_customers c
     where c.user_id = p_user and c.deleted_at is null;
    return v_id;
end
$function$;
revoke all on function promptd.billing_customer_set(uuid,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.billing_customer_set(uuid,text) to service_role, promptd_app;

-- promptd.billing_state(user): the caller's billing for GET /api/v1/billing
-- and the export: tier, customer, the latest subscription, the last 12
-- invoices, the last 20 notices.
create or replace function promptd.billing_state(p_user uuid)
 returns jsonb
 language sql
 stable security definer
 set search_path to ''
as $function$
    select jsonb_build_object(
        'tier', (select p.subscription_tier from public.profiles p where p.id = p_user),
        'customer', (select c.customer_id from promptd.billing_customers c
                      where c.user_id = p_user and c.deleted_at is null),
        'subscription', (select jsonb_build_object('id', s.id, 'plan', s.tier,
                'interval', s.billing_interval, 'status', s.status, 'price', s.price_id,
                'current_period_end', s.current_period_end,
                'cancel_at_period_end', s.cancel_at_period_end,
                'past_due_since', s.past_due_since, 'payment_method', s.payment_method)
              from promptd.billing_subscriptions s where s.user_id = p_user
             order by (s.status in ('active', 'trialing', 'past_due', 'unpaid', 'paused')) desc,
                      s.event_created desc limit 1),
        'invoices', coalesce((select jsonb_agg(jsonb_build_object('id', i.id, 'number', i.number,
                'amount_due', i.amount_due, 'amount_paid', i.amount_paid, 'currency', i.currency,
                'status', i.status, 'hosted_invoice_url', i.hosted_invoice_url, 'created', i.created)
                order by i.created desc)
              from (select * from promptd.billing_invoices i where i.user_id = p_user
                     order by i.created desc limit 12) i), '[]'::jsonb),
        'notices', coalesce((select jsonb_agg(jsonb_build_object('kind', a.kind,
                'event_id', a.event_id, 'detail', a.detail, 'created_at', a.created_at)
                order by a.created_at desc)
              from (select * from promptd.account_activity a where a.user_id = p_user
                     order by a.created_at desc limit 20) a), '[]'::jsonb))
$function$;
revoke all on function promptd.billing_state(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.billing_state(uuid) to service_role, promptd_app;

-- promptd.billing_export(): the caller's billing records for GET
-- /api/v1/me/export: customer, every subscription, invoice, notice, and
-- the Stripe events applied to the account (id, type, created, outcome).
create or replace function promptd.billing_export()
 returns jsonb
 language sql
 stable security definer
 set search_path to ''
as $function$
    select jsonb_build_object(
        'customers', coalesce((select jsonb_agg(to_jsonb(c) - 'user_id' order by c.created_at)
                                 from promptd.billing_customers c where c.user_id = auth.uid()), '[]'::jsonb),
        'subscriptions', coalesce((select jsonb_agg(to_jsonb(s) - 'user_id' order by s.updated_at)
                                     from promptd.billing_subscriptions s where s.user_id = auth.uid()), '[]'::jsonb),
        'invoices', coalesce((select jsonb_agg(to_jsonb(i) - 'user_id' order by i.created)
                                from promptd.billing_invoices i where i.user_id = auth.uid()), '[]'::jsonb),
        'notices', coalesce((select jsonb_agg(to_jsonb(a) - 'user_id' order by a.id)
                               from promptd.account_activity a where a.user_id = auth.uid()), '[]'::jsonb),
        'events', coalesce((select jsonb_agg(jsonb_build_object('id', e.id, 'type', e.type,
                                'created', e.created, 'outcome', e.outcome) order by e.created, e.id)
                              from promptd.stripe_events e where e.user_id = auth.uid()), '[]'::jsonb))
$function$;
revoke all on function promptd.billing_export() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.billing_export() to authenticated;

-- promptd.billing_live_subscriptions(): the caller's subscriptions Stripe
-- may still charge (DELETE /api/v1/me cancels them first).
create or replace function promptd.billing_live_subscriptions()
 returns setof text
 language sql
 stable security definer
 set search_path to ''
as $function$
    select s.id from promptd.billing_subscriptions s
     where s.user_id = auth.uid() and s.status not in ('canceled', 'incomplete_expired')
     order by s.id
$function$;
revoke all on function promptd.billing_live_subscriptions() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.billing_live_subscriptions() to authenticated;

-- promptd.billing_subscribed(user): does the user have a subscription
-- Stripe may still charge?  (A second checkout would bill twice: the
-- portal changes plans.)
create or replace function promptd.billing_subscribed(p_user uuid)
 returns boolean
 language sql
 stable security definer
 set search_path to ''
as $function$
    select exists (select 1 from promptd.billing_subscriptions s
                    where s.user_id = p_user
                      and s.status in ('active', 'trialing', 'past_due', 'unpaid', 'paused'))
$function$;
revoke all on function promptd.billing_subscribed(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.billing_subscribed(uuid) to service_role, promptd_app;
