-- 0053_replica.sql: the read replica's freshness check (issue 18: PROMPTD_REPLICA_DATABASE_URL, PROMPTD_REPLICA_MAX_LAG); the current definition is in sql/functions/replica.sql.

-- Seconds the data this server shows may lag its primary: 0 on a primary,
-- or on a streaming standby that has replayed all it received; else the
-- age of the last replayed commit (an upper bound on the staleness);
-- NULL on a standby that is not streaming (cut off, it would serve old
-- rows forever).  Definer: pg_stat_wal_receiver's status is shown only to
-- pg_read_all_stats.
CREATE OR REPLACE FUNCTION promptd.replica_lag()
 RETURNS double precision
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select case
        when not pg_catalog.pg_is_in_recovery() then 0::double precision
        when not exists (select from pg_catalog.pg_stat_wal_receiver w
                         where w.status = 'streaming') then null
        when pg_catalog.pg_last_wal_receive_lsn() = pg_catalog.pg_last_wal_replay_lsn()
            then 0::double precision
        else extract(epoch from pg_catalog.now()
                     - pg_catalog.pg_last_xact_replay_timestamp())::double precision
    end
$function$;
revoke all on function promptd.replica_lag() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.replica_lag() to promptd_app;
