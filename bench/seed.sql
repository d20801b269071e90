-- seed.sql: the benchmark's data set, loaded by bench/run as the superuser.
--
-- :users users x :prompts prompts each (defaults 1000 x 20).  User ids are
-- deterministic and the same as ../shared/peers/seed-peers.sql, so one token
-- per user works against promptd and the peers alike; titles, content, tags
-- and metadata have the same shape as the peers' rows (same response size).
-- Profiles come from the auth.users trigger, prompt_versions from the
-- prompts triggers.
\set ON_ERROR_STOP 1

begin;

insert into auth.users (id, aud, role, email, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data)
select ('00000000-0000-4000-8000-' || lpad(to_hex(u), 12, '0'))::uuid,
       'authenticated', 'authenticated',
       'bench-u' || u || '@example.test', now(),
       '{"provider":"email","providers":["email"]}', '{}'
from generate_series(1, :users) u
on conflict (id) do nothing;

-- (as the superuser there are no claims: each prompt names its owner's
-- personal workspace, which the new-user trigger made)
insert into public.prompts (user_id, workspace_id, title, content, tags, metadata)
select ('00000000-0000-4000-8000-' || lpad(to_hex(u), 12, '0'))::uuid,
       promptd.personal_workspace(('00000000-0000-4000-8000-' || lpad(to_hex(u), 12, '0'))::uuid),
       'Prompt ' || p || ' of user ' || u,
       repeat('Write a concise summary of the following text, keeping every number. ', 6),
       array['bench', 'u' || u], jsonb_build_object('n', p)
from generate_series(1, :users) u, generate_series(1, :prompts) p
where not exists (select 1 from public.prompts x
                  where x.user_id = ('00000000-0000-4000-8000-' || lpad(to_hex(u), 12, '0'))::uuid);

commit;

analyze;
