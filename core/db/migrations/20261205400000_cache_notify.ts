// PostgreSQL: the kernel's read cache (core/cache.ts) is told of every committed write to the
// tables it reads, whoever made it (another server process, a CLI command, an operator in psql).
// A row trigger NOTIFYs a tag per changed row on the channel `atrium_cache_<schema>`, which each
// server's LISTEN connection (core/live.ts) turns into dropped entries. NOTIFY is delivered at
// commit and not at all on rollback, so a process never drops too early or for nothing.
// The trigger's arguments name the tags: each `prefix=column` gives `prefix:<the row's value>`;
// with none, or no value, the tag is `t:<table>`; every write also sends `k:<table>` ("some row
// changed", for entries that read the table as a whole). The kernel puts the same trigger on
// every workspace-owned table at boot (`watchCardTables`, core/cache.ts).
// SQLite has one server process; another process's commits are seen through PRAGMA data_version.
import type { Knex } from 'knex';

const WATCHED: Array<[string, string[]]> = [
  ['sessions', ['session=id_hash']],
  ['users', ['user=id']],
  ['memberships', ['user=user_id']],
  ['notifications', ['user=user_id']],
  ['waiting_counts', ['user=user_id']],
  ['workspaces', []],
  ['roles', []],
];

export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') return;
  await knex.raw(`
    create or replace function atrium_cache_notify() returns trigger language plpgsql as $$
    declare
      channel text := left('atrium_cache_' || regexp_replace(lower(tg_table_schema), '[^a-z0-9_]', '_', 'g'), 63);
      rows jsonb[];
      r jsonb;
      spec text;
      v text;
      sent boolean;
    begin
      if tg_op = 'TRUNCATE' then
        perform pg_notify(channel, 't:' || tg_table_name);
        perform pg_notify(channel, 'k:' || tg_table_name);
        return null;
      end if;
      rows := case tg_op when 'INSERT' then array[to_jsonb(new)] when 'DELETE' then array[to_jsonb(old)] else array[to_jsonb(old), to_jsonb(new)] end;
      foreach r in array rows loop
        sent := false;
        if tg_nargs > 0 then
          foreach spec in array tg_argv loop
            v := r ->> split_part(spec, '=', 2);
            if v is not null then
              perform pg_notify(channel, split_part(spec, '=', 1) || ':' || v);
              sent := true;
            end if;
          end loop;
        end if;
        if not sent then
          perform pg_notify(channel, 't:' || tg_table_name);
        end if;
      end loop;
      -- "Some row of this table changed" (entries that read the table as a whole).
      perform pg_notify(channel, 'k:' || tg_table_name);
      return null;
    end $$`);
  for (const [table, args] of WATCHED) {
    const list = args.map((a) => `'${a}'`).join(', ');
    await knex.raw(`create trigger atrium_cache_rows after insert or update or delete on ${table} for each row execute function atrium_cache_notify(${list})`);
    await knex.raw(`create trigger atrium_cache_truncate after truncate on ${table} for each statement execute function atrium_cache_notify()`);
  }
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') return;
  for (const [table] of WATCHED) {
    await knex.raw(`drop trigger if exists atrium_cache_rows on ${table}`);
    await knex.raw(`drop trigger if exists atrium_cache_truncate on ${table}`);
  }
  await knex.raw('drop function if exists atrium_cache_notify()');
}
