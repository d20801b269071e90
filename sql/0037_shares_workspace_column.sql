-- 0037_shares_workspace_column.sql: members may read which workspace a share link lives in (the share family tells a viewer's 403 from a stranger's 404 by it).

grant select (workspace_id) on table public.shares to authenticated;
