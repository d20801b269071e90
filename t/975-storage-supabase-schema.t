#!/usr/bin/perl
# 975-storage-supabase-schema.t: the migrations on a database that already has Supabase's storage schema (an older one, without the newer columns): its tables, rows, own functions and grants are kept, the missing columns added, promptd's column, policies and functions installed, and a second run changes nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test;

my $s = Promptd::Test->new(PROMPTD_WORKERS => 1);
my $pw = do { local (@ARGV, $/) = ($s->var_dir . '/secrets/pg_superuser_password'); <> };
chomp $pw;
my $DB = 't_supabase';
sub q1 { my ($sql) = @_; my $r = $s->psql($sql, db => $DB); @$r ? $r->[0][0] : undef }
sub migrate {
    my $url = 'host=' . $s->var_dir . "/run port=" . $s->pg_port . " user=postgres password=$pw dbname=$DB";
    return $s->_run([$s->{promptctl}, 'migrate'], separate => 1, env => {
        PROMPTD_DATABASE_URL => $url, PROMPTD_SQL_DIR => "$FindBin::Bin/../sql",
        PROMPTD_APP_DATABASE_URL => 'host=/nonexistent dbname=none' });
}

$s->psql("create database $DB");
# Supabase's storage schema as an older project has it: no owner_id,
# version, user_metadata, file_size_limit or allowed_mime_types; its own
# migrations table, helper function, foreign key name and a row each.
$s->psql(<<'SQL', db => $DB);
create schema storage;
grant usage on schema storage to anon, authenticated, service_role;
create table storage.migrations (id integer primary key, name varchar(100) unique not null,
    hash varchar(40) not null, executed_at timestamp default current_timestamp);
insert into storage.migrations values (0, 'create-migrations-table', 'e18db593', now());
create table storage.buckets (id text not null primary key, name text not null, owner uuid,
    created_at timestamptz default now(), updated_at timestamptz default now(),
    public boolean default false);
create unique index bname on storage.buckets using btree (name);
create table storage.objects (id uuid not null default gen_random_uuid() primary key,
    bucket_id text, name text, owner uuid, created_at timestamptz default now(),
    updated_at timestamptz default now(), last_accessed_at timestamptz default now(),
    metadata jsonb, path_tokens text[] generated always as (string_to_array(name, '/')) stored,
    constraint "objects_bucketId_fkey" foreign key (bucket_id) references storage.buckets (id));
create unique index bucketid_objname on storage.objects using btree (bucket_id, name);
create function storage.foldername(name text) returns text[] language plpgsql as $$
declare _parts text[];
begin
    select string_to_array(name, '/') into _parts;
    return _parts[1:array_length(_parts, 1) - 1];
end $$;
alter table storage.buckets enable row level security;
alter table storage.objects enable row level security;
grant all on storage.buckets, storage.objects to service_role;
insert into storage.buckets (id, name, public) values ('avatars', 'avatars', true);
insert into storage.objects (bucket_id, name, metadata)
    values ('avatars', 'u1/face.png', '{"size": 10, "mimetype": "image/png"}');
SQL

my ($rc, $out, $err) = migrate();
is($rc, 0, 'the migrations apply over Supabase\'s storage schema') or diag "$err$out";
is(q1("select name from storage.objects where bucket_id = 'avatars'"), 'u1/face.png', 'its object row is kept');
is(q1("select public::text from storage.buckets where id = 'avatars'"), 'true', '... and its bucket');
is(q1("select count(*) from storage.migrations"), 1, '... and its migrations table');
is(q1("select (storage.foldername('a/b/c.png'))[2]"), 'b', '... and its functions');
is(q1(q{select count(*) from pg_constraint where conname = 'objects_bucketId_fkey'}), 1, '... and its foreign key');
is(q1(q{select string_agg(column_name, ',' order by column_name) from information_schema.columns
        where table_schema = 'storage' and table_name = 'objects'
          and column_name in ('blob_id', 'owner_id', 'user_metadata', 'version')}),
   'blob_id,owner_id,user_metadata,version', 'the newer columns and promptd\'s blob_id are added');
is(q1(q{select string_agg(column_name, ',' order by column_name) from information_schema.columns
        where table_schema = 'storage' and table_name = 'buckets'
          and column_name in ('allowed_mime_types', 'file_size_limit', 'owner_id')}),
   'allowed_mime_types,file_size_limit,owner_id', '... to buckets too');
is(q1("select count(*) from pg_policies where schemaname = 'storage' and policyname like 'promptd: %'"), 8,
   'promptd\'s eight policies are installed');
is(q1("select has_schema_privilege('promptd_app', 'storage', 'usage')::text"), 'true',
   'the workers may name the schema');
is(q1("select count(*) from pg_proc where proname = 'storage_blob_seal'"), 1, 'promptd\'s storage functions');
my $before = q1("select md5(string_agg(policyname || qual, ',' order by policyname)) from pg_policies "
              . "where schemaname = 'storage'");
($rc, $out, $err) = migrate();
is($rc, 0, 'a second run') or diag $err;
is(q1("select md5(string_agg(policyname || qual, ',' order by policyname)) from pg_policies "
    . "where schemaname = 'storage'"), $before, '... changes no policy');
is(q1("select count(*) from storage.objects"), 1, '... nor any row');

done_testing;
