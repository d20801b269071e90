-- secrets.sql: per-user secrets (AES-256-GCM at rest): their policies.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "promptctl").

-- Row level security on public.user_secrets.
drop policy if exists user_secrets_delete_own on public.user_secrets;
create policy user_secrets_delete_own on public.user_secrets for delete to authenticated
    using ((user_id = ( SELECT auth.uid() AS uid)));

drop policy if exists user_secrets_insert_own on public.user_secrets;
create policy user_secrets_insert_own on public.user_secrets for insert to authenticated
    with check ((user_id = ( SELECT auth.uid() AS uid)));

drop policy if exists user_secrets_select_own on public.user_secrets;
create policy user_secrets_select_own on public.user_secrets for select to authenticated
    using ((user_id = ( SELECT auth.uid() AS uid)));

drop policy if exists user_secrets_update_own on public.user_secrets;
create policy user_secrets_update_own on public.user_secrets for update to authenticated
    using ((user_id = ( SELECT auth.uid() AS uid)))
    with check ((user_id = ( SELECT auth.uid() AS uid)));
