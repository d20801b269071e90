-- 0029_billing_customer_of.sql: checkout calls Stripe with no transaction open: the customer lookup takes no lock and says whether the link was deleted (promptd.billing_customer_of replaces promptd.billing_customer_get); a deleted customer's link is replaced.

drop function promptd.billing_customer_get(uuid);

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
