-- 0003_prompts.sql: prompts and their immutable history (prompt_versions).
--
-- The history is written by triggers, not by the application, so every
-- change -- through the API or by raw SQL -- leaves a version row.

create table public.prompts (
    id         uuid primary key default gen_random_uuid(),
    user_id    uuid not null default auth.uid()
        references auth.users (id) on delete cascade,
    title      text not null
        check (char_length(title) between 1 and 200),
    content    text not null
        check (octet_length(content) <= 102400),
    tags       text[] not null default '{}'
        check (cardinality(tags) <= 20),
    metadata   jsonb not null default '{}'
        check (jsonb_typeof(metadata) = 'object'),
    folder     text not null default '/',
    variables  text[] not null default '{}',
    version    int not null default 1,
    search     tsvector generated always as (
        setweight(to_tsvector('english'::regconfig, title), 'A') ||
        setweight(to_tsvector('english'::regconfig, content), 'B')
    ) stored,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- Listing is per user, newest first, keyset-paginated on (time, id).
create index prompts_user_updated on public.prompts (user_id, updated_at desc, id desc);
create index prompts_user_created on public.prompts (user_id, created_at desc, id desc);
create index prompts_user_folder on public.prompts (user_id, folder);
create index prompts_tags on public.prompts using gin (tags);
create index prompts_search on public.prompts using gin (search);

create table public.prompt_versions (
    prompt_id  uuid not null references public.prompts (id) on delete cascade,
    version    int not null,
    user_id    uuid not null,
    title      text not null,
    content    text not null,
    tags       text[] not null,
    metadata   jsonb not null,
    folder     text not null,
    variables  text[] not null,
    created_at timestamptz not null default now(),
    primary key (prompt_id, version)
);

alter table public.prompts enable row level security;
alter table public.prompts force row level security;
alter table public.prompt_versions enable row level security;
alter table public.prompt_versions force row level security;

create policy prompts_select_own on public.prompts
    for select to authenticated
    using (user_id = (select auth.uid()));
create policy prompts_insert_own on public.prompts
    for insert to authenticated
    with check (user_id = (select auth.uid()));
create policy prompts_update_own on public.prompts
    for update to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid()));
create policy prompts_delete_own on public.prompts
    for delete to authenticated
    using (user_id = (select auth.uid()));

-- Only the (definer) trigger writes history: INSERT is granted as the
-- contract says, but no policy admits a row, so a direct insert is refused
-- and nobody can squat a future (prompt_id, version).
create policy prompt_versions_select_own on public.prompt_versions
    for select to authenticated
    using (user_id = (select auth.uid()));

revoke all on table public.prompts from public, anon, authenticated, service_role;
revoke all on table public.prompt_versions from public, anon, authenticated, service_role;
grant select, insert, update, delete on table public.prompts to authenticated;
grant select, insert on table public.prompt_versions to authenticated;

-- promptd.prompt_variables(content): distinct {{ name }} placeholders in
-- first-appearance order.
create function promptd.prompt_variables(p_content text) returns text[]
language sql immutable strict parallel safe set search_path = ''
as $$
    select coalesce(array_agg(v.name order by v.first_at), '{}'::text[])
    from (
        select m.match[1] as name, min(m.ord) as first_at
        from pg_catalog.regexp_matches(
                 p_content,
                 '\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}', 'g')
             with ordinality as m(match, ord)
        group by m.match[1]
    ) v
$$;
grant execute on function promptd.prompt_variables(text) to anon, authenticated, service_role;

-- BEFORE INSERT OR UPDATE: derive variables; an insert starts at version 1;
-- an update that changes title/content/tags/metadata/folder bumps version
-- and updated_at, any other update keeps both.
create function promptd.prompts_before_write() returns trigger
language plpgsql set search_path = ''
as $$
begin
    if tg_op = 'INSERT' then
        new.version := 1;
        new.variables := promptd.prompt_variables(new.content);
        return new;
    end if;
    if new.content is distinct from old.content then
        new.variables := promptd.prompt_variables(new.content);
    else
        new.variables := old.variables;
    end if;
    new.created_at := old.created_at;
    if (new.title, new.content, new.tags, new.metadata, new.folder)
       is distinct from (old.title, old.content, old.tags, old.metadata, old.folder) then
        new.version := old.version + 1;
        new.updated_at := now();
    else
        new.version := old.version;
        new.updated_at := old.updated_at;
    end if;
    return new;
end
$$;
revoke all on function promptd.prompts_before_write() from public;

create trigger prompts_before_write
    before insert or update on public.prompts
    for each row execute function promptd.prompts_before_write();

-- AFTER INSERT / AFTER UPDATE (when version changed): record the new state.
-- SECURITY DEFINER: the history is written whatever the caller may do.
create function promptd.prompts_record_version() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
    insert into public.prompt_versions
        (prompt_id, version, user_id, title, content, tags, metadata,
         folder, variables, created_at)
    values
        (new.id, new.version, new.user_id, new.title, new.content, new.tags,
         new.metadata, new.folder, new.variables, now());
    return null;
end
$$;
revoke all on function promptd.prompts_record_version() from public;

create trigger prompts_record_version_insert
    after insert on public.prompts
    for each row execute function promptd.prompts_record_version();
create trigger prompts_record_version_update
    after update on public.prompts
    for each row when (new.version is distinct from old.version)
    execute function promptd.prompts_record_version();

-- History is append-only.
create function promptd.prompt_versions_immutable() returns trigger
language plpgsql set search_path = ''
as $$
begin
    raise exception 'prompt_versions rows are immutable'
        using errcode = 'restrict_violation';
end
$$;
revoke all on function promptd.prompt_versions_immutable() from public;

create trigger prompt_versions_immutable
    before update on public.prompt_versions
    for each row execute function promptd.prompt_versions_immutable();
