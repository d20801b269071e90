-- 0060_deletion_lock_order.sql: an account's deletion and billing's jobs take their locks in one order, the audit chain's head last.  DELETE /api/v1/me wrote its audit row (holding the head until commit) before its deletion waited for the user's profile, while billing's retiering locks the profile before it audits: a Stripe event applied for the user (one the deletion's own cancellation sends), or the grace sweep, deadlocked with it.  The deletion now locks the user, their subscriptions and their profile first (promptd.delete_account_lock), and the grace sweep locks every profile it may change before its first audit row.  The current definitions are in sql/functions/account.sql and sql/functions/billing.sql.

CREATE OR REPLACE FUNCTION promptd.delete_account_lock()
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_uid uuid := auth.uid();
begin
    if v_uid is null then
        return false;
    end if;
    perform 1 from auth.users u where u.id = v_uid for update;
    perform 1 from promptd.billing_subscriptions s where s.user_id = v_uid order by s.id for update;
    perform 1 from public.profiles p where p.id = v_uid for update;
    return true;
end
$function$;
revoke all on function promptd.delete_account_lock() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.delete_account_lock() to service_role, promptd_app;

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
