/**
 * The one catalog query that computes the published schema (see published-schema.ts for its shape).
 * Both `getPublishedSchema` (run from TypeScript) and the DDL event-trigger functions (ddl-triggers.ts)
 * embed this same text, so the schema a trigger reports and the one initial sync reads cannot drift.
 *
 * Contract: the query is a single SELECT of catalog tables and views only (so it runs inside a
 * read-only `SET TRANSACTION SNAPSHOT` transaction), returns one row with one `json` column `schema`,
 * and its output is deterministic for a given catalog state (the triggers compare texts).
 */

/**
 * Returns the published-schema SELECT with `publicationsSql` (an SQL expression of type text[], e.g.
 * `$1::text[]` or an `ARRAY[...]` literal) naming the publications whose tables are described.
 */
export function publishedSchemaQuery(publicationsSql: string): string {
  return `
WITH
publication_table AS (
  SELECT c.oid AS relid, n.nspname, c.relname, c.relreplident, pt.pubname, pt.rowfilter, pt.attnames
  FROM pg_publication_tables pt
  JOIN pg_namespace n ON n.nspname = pt.schemaname
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
  WHERE pt.pubname = ANY (${publicationsSql})
),
published_table AS (
  SELECT relid, nspname, relname, relreplident,
    json_object_agg(pubname, json_build_object('rowFilter', rowfilter) ORDER BY pubname) AS pubs
  FROM publication_table
  GROUP BY relid, nspname, relname, relreplident
),
published_column AS (
  -- A column is published if any publication's column list includes it. PG15 wrongly lists
  -- generated columns in attnames (they are never replicated there), hence the attgenerated test.
  SELECT DISTINCT ON (pt.relid, a.attnum) pt.relid, a.attnum, a.attname, a.atttypid, a.atttypmod,
    a.attndims, a.attnotnull, a.attgenerated
  FROM publication_table pt
  JOIN pg_attribute a ON a.attrelid = pt.relid AND a.attname = ANY (pt.attnames)
  WHERE a.attnum > 0 AND NOT a.attisdropped
    AND (current_setting('server_version_num')::int >= 160000 OR a.attgenerated = '')
  ORDER BY pt.relid, a.attnum
),
column_spec AS (
  SELECT pc.relid, pc.attnum, pc.attname, json_build_object(
    'pos', pc.attnum,
    'dataType', CASE WHEN elem.oid IS NULL THEN t.typname::text
                     ELSE elem.typname::text || repeat('[]', greatest(pc.attndims, 1)) END,
    'typeOID', pc.atttypid::int8,
    'notNull', pc.attnotnull,
    'pgTypeClass', t.typtype::text,
    'elemPgTypeClass', elem.typtype::text,
    -- varchar(n) and char(n) store n + 4 (the varlena header size) in atttypmod.
    'characterMaximumLength', CASE WHEN coalesce(elem.oid, t.oid) IN (1042, 1043)
                                    AND pc.atttypmod >= 4 THEN pc.atttypmod - 4 END,
    'dflt', CASE WHEN pc.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END
  ) AS spec
  FROM published_column pc
  JOIN pg_type t ON t.oid = pc.atttypid
  LEFT JOIN pg_type elem ON t.typlen = -1 AND t.typelem <> 0 AND elem.oid = t.typelem
  LEFT JOIN pg_attrdef d ON d.adrelid = pc.relid AND d.adnum = pc.attnum
),
index_key AS (
  SELECT i.indexrelid, i.indrelid AS relid, ix.relname AS index_name, i.indisunique,
    i.indisprimary, i.indisreplident, i.indimmediate,
    array_agg(a.attname::text ORDER BY k.ord) AS column_names,
    -- Bit 0 of indoption is set for DESC.
    json_object_agg(a.attname, CASE WHEN coalesce(k.opt, 0) & 1 = 1 THEN 'DESC' ELSE 'ASC' END
                    ORDER BY k.ord) AS column_directions,
    bool_and(pc.attnum IS NOT NULL) AS all_published,
    bool_and(a.attnotnull) AS all_not_null
  FROM pg_index i
  JOIN pg_class ix ON ix.oid = i.indexrelid
  CROSS JOIN LATERAL unnest(i.indkey::int2[], i.indoption::int2[]) WITH ORDINALITY AS k(attnum, opt, ord)
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
  LEFT JOIN published_column pc ON pc.relid = i.indrelid AND pc.attnum = k.attnum
  WHERE i.indrelid IN (SELECT relid FROM published_table)
    AND i.indexprs IS NULL AND i.indpred IS NULL AND NOT i.indisexclusion
    AND k.ord <= i.indnkeyatts
  GROUP BY i.indexrelid, i.indrelid, ix.relname, i.indisunique, i.indisprimary,
    i.indisreplident, i.indimmediate
),
table_key AS (
  -- The row key: the primary key, else the replica identity index, else the unique index over
  -- non-null columns with the fewest columns (immediate before deferrable, then by index name).
  SELECT DISTINCT ON (relid) relid, column_names
  FROM index_key
  WHERE indisunique AND all_published AND (indisprimary OR indisreplident OR all_not_null)
  ORDER BY relid, indisprimary DESC, indisreplident DESC, indimmediate DESC,
    cardinality(column_names), index_name
)
SELECT json_build_object(
  'tables', coalesce((
    SELECT json_agg(json_build_object(
      'oid', t.relid::int8,
      'schema', t.nspname,
      'name', t.relname,
      'replicaIdentity', t.relreplident::text,
      'columns', coalesce((SELECT json_object_agg(cs.attname, cs.spec ORDER BY cs.attnum)
                           FROM column_spec cs WHERE cs.relid = t.relid), '{}'::json),
      'primaryKey', coalesce(to_json(k.column_names), '[]'::json),
      'publications', t.pubs
    ) ORDER BY t.nspname, t.relname)
    FROM published_table t LEFT JOIN table_key k ON k.relid = t.relid
  ), '[]'::json),
  'indexes', coalesce((
    SELECT json_agg(json_build_object(
      'schema', t.nspname,
      'tableName', t.relname,
      'name', ik.index_name,
      'unique', ik.indisunique,
      'columns', ik.column_directions,
      'isReplicaIdentity', ik.indisreplident,
      'isImmediate', ik.indimmediate
    ) ORDER BY t.nspname, ik.index_name)
    FROM index_key ik JOIN published_table t ON t.relid = ik.relid
    WHERE ik.all_published
  ), '[]'::json)
) AS schema`;
}
