-- 0046_byname_direct.sql: promptd.prompt_deployed, a security-barrier view of the labelled versions of the caller's prompts, so that the by-name fetch's common path is one statement sent as the request role instead of a call of the security definer promptd.prompt_by_name.

-- promptd.prompt_deployed: the labelled versions of the prompts in the
-- caller's workspaces, one row per prompt and label, as GET
-- /api/v1/prompts/by-name/{name}?label= answers them (prompt: the answer,
-- includes not resolved; composed: the content has an include, which
-- promptd.prompt_by_name resolves).  default_ws: where a fetch naming no
-- workspace looks (an API key's own workspace, else the caller's personal
-- one).  The fetch's common path is one statement on this view, sent as the
-- request role: the view reads the tables as its owner, as the security
-- definer prompt_by_name does, and applies the same test,
-- promptd.workspace_role's joined once (a member of the prompt's workspace;
-- a request by API key only in its key's workspace), where RLS on the
-- tables would test it once per table read.  security_barrier: a caller's
-- conditions run only on rows that passed it, unless leakproof.
create or replace view promptd.prompt_deployed with (security_barrier) as
select p.workspace_id, p.name, l.label,
       coalesce(c.key_ws, (select w.id from public.workspaces w where w.personal_of = c.uid)) as default_ws,
       json_build_object('id', p.id, 'workspace_id', p.workspace_id, 'name', p.name,
           'type', p.type, 'version', v.version, 'title', v.title,
           'content', case when p.type = 'chat' then v.content::json else to_json(v.content) end,
           'includes', '[]'::json,
           'config', v.config, 'tags', v.tags, 'variables', v.variables,
           'commit_message', v.commit_message, 'created_at', v.created_at,
           'labels', array_to_json(array(select x.label from public.prompt_labels x
                                          where x.prompt_id = p.id and x.version = v.version
                                          order by x.label))) as prompt,
       strpos(v.content, '{{>') > 0 as composed
  from (select auth.uid() as uid,
               (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'workspace_id')::uuid
               as key_ws) c
  join public.workspace_members m on m.user_id = c.uid
  join public.prompts p on p.workspace_id = m.workspace_id
  join public.prompt_labels l on l.prompt_id = p.id
  join public.prompt_versions v on v.prompt_id = p.id and v.version = l.version
 where c.key_ws is null or c.key_ws = p.workspace_id;
revoke all on table promptd.prompt_deployed from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant select on table promptd.prompt_deployed to authenticated;
