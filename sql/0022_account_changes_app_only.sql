-- 0022_account_changes_app_only.sql: password, email and account deletion only through the workers, which re-authenticate first.
--
-- PUT /auth/v1/user and DELETE /api/v1/me ask for the current password or
-- a recent sign-in (0019) before they call these functions.  Granted to
-- authenticated, they could be called straight from raw SQL or PostgREST
-- under that role (as on Supabase) by anyone holding an access token,
-- skipping re-authentication and setting any password hash.  Now only the
-- worker's login role calls them (src/db/db.c db_exec_app: inside the
-- request's transaction, the caller's claims kept, so auth.uid() is still
-- the caller), as 0021 does for audit() and enqueue().

revoke execute on function promptd.auth_update_user(uuid, jsonb, text)
    from public, anon, authenticated;
revoke execute on function promptd.auth_change_email(uuid, text)
    from public, anon, authenticated;
revoke execute on function promptd.delete_account()
    from public, anon, authenticated;
grant execute on function promptd.auth_update_user(uuid, jsonb, text),
    promptd.auth_change_email(uuid, text),
    promptd.delete_account()
    to service_role, promptd_app;
