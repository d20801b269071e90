-- keys.sql: API keys: authentication by key; their policies.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "promptctl").

-- The key behind an HMAC, for the worker before it knows who is calling:
-- no row when unknown; revoked / expired flags otherwise (the caller
-- refuses those).  A key acts in its workspace only, with at most its
-- creator's role there: one whose creator is no longer a member counts as
-- revoked.  last_used_at is written only when it is older than
-- five minutes: a busy key costs one row update per five minutes, and two
-- concurrent requests re-check the condition under the row lock (READ
-- COMMITTED re-evaluation), so only one of them writes.
CREATE OR REPLACE FUNCTION promptd.api_key_auth(p_hash text)
 RETURNS TABLE(key_id uuid, user_id uuid, scopes text[], revoked boolean, expired boolean, workspace_id uuid)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    k record;
begin
    select a.id, a.user_id, a.scopes, a.revoked_at, a.expires_at, a.last_used_at,
           a.workspace_id,
           exists (select 1 from public.workspace_members m
                    where m.workspace_id = a.workspace_id and m.user_id = a.user_id) as member
      into k
      from public.api_keys a
     where a.key_hash = p_hash;
    if not found then
        return;
    end if;
    key_id := k.id;
    user_id := k.user_id;
    scopes := k.scopes;
    revoked := k.revoked_at is not null or not k.member;
    workspace_id := k.workspace_id;
    expired := k.expires_at is not null and k.expires_at <= now();
    if not revoked and not expired
       and (k.last_used_at is null or k.last_used_at < now() - interval '5 minutes') then
        update public.api_keys a
           set last_used_at = now()
         where a.id = k.id
           and (a.last_used_at is null or a.last_used_at < now() - interval '5 minutes');
    end if;
    return next;
end
$function$;
revoke all on function promptd.api_key_auth(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.api_key_auth(text) to promptd_app;

-- Row level security on public.api_keys.
drop policy if exists api_keys_insert_own on public.api_keys;
create policy api_keys_insert_own on public.api_keys for insert to authenticated
    with check (((user_id = ( SELECT auth.uid() AS uid)) AND (promptd.workspace_role(workspace_id) IS NOT NULL)));

drop policy if exists api_keys_select_own on public.api_keys;
create policy api_keys_select_own on public.api_keys for select to authenticated
    using ((user_id = ( SELECT auth.uid() AS uid)));

drop policy if exists api_keys_update_own on public.api_keys;
create policy api_keys_update_own on public.api_keys for update to authenticated
    using ((user_id = ( SELECT auth.uid() AS uid)))
    with check ((user_id = ( SELECT auth.uid() AS uid)));
