-- usage.sql: usage tracking and idempotency keys: their policies.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "promptctl").

-- Row level security on public.idempotency_keys.
drop policy if exists idempotency_keys_insert_own on public.idempotency_keys;
create policy idempotency_keys_insert_own on public.idempotency_keys for insert to authenticated
    with check ((user_id = ( SELECT auth.uid() AS uid)));

drop policy if exists idempotency_keys_select_own on public.idempotency_keys;
create policy idempotency_keys_select_own on public.idempotency_keys for select to authenticated
    using ((user_id = ( SELECT auth.uid() AS uid)));

drop policy if exists idempotency_keys_update_own on public.idempotency_keys;
create policy idempotency_keys_update_own on public.idempotency_keys for update to authenticated
    using ((user_id = ( SELECT auth.uid() AS uid)))
    with check ((user_id = ( SELECT auth.uid() AS uid)));

-- Row level security on public.usage_tracking.
drop policy if exists usage_tracking_insert_own on public.usage_tracking;
create policy usage_tracking_insert_own on public.usage_tracking for insert to authenticated
    with check ((user_id = ( SELECT auth.uid() AS uid)));

drop policy if exists usage_tracking_select_own on public.usage_tracking;
create policy usage_tracking_select_own on public.usage_tracking for select to authenticated
    using ((user_id = ( SELECT auth.uid() AS uid)));
