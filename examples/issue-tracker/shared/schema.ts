import {
  boolean,
  createBuilder,
  createSchema,
  number,
  relationships,
  string,
  table,
} from '@rocicorp/zero';

/**
 * The issue tracker's Zero schema: what the client may read and write, and how tables relate.
 * Postgres holds the same tables (server/seed.ts); zcache replicates them and the client syncs.
 */
const user = table('user').columns({id: string(), name: string()}).primaryKey('id');

const issue = table('issue')
  .columns({
    id: string(),
    title: string(),
    description: string(),
    open: boolean(),
    creatorID: string(),
    created: number(),
    modified: number(),
  })
  .primaryKey('id');

const comment = table('comment')
  .columns({
    id: string(),
    issueID: string(),
    creatorID: string(),
    body: string(),
    created: number(),
  })
  .primaryKey('id');

const label = table('label').columns({id: string(), name: string()}).primaryKey('id');

const issueLabel = table('issueLabel')
  .columns({issueID: string(), labelID: string()})
  .primaryKey('issueID', 'labelID');

const issueRelationships = relationships(issue, ({one, many}) => ({
  creator: one({sourceField: ['creatorID'], destField: ['id'], destSchema: user}),
  comments: many({sourceField: ['id'], destField: ['issueID'], destSchema: comment}),
  labels: many(
    {sourceField: ['id'], destField: ['issueID'], destSchema: issueLabel},
    {sourceField: ['labelID'], destField: ['id'], destSchema: label},
  ),
}));

const commentRelationships = relationships(comment, ({one}) => ({
  creator: one({sourceField: ['creatorID'], destField: ['id'], destSchema: user}),
}));

export const schema = createSchema({
  tables: [user, issue, comment, label, issueLabel],
  relationships: [issueRelationships, commentRelationships],
});

export type Schema = typeof schema;

/** Who is asking: the API server derives it from the Authorization header zcache forwards. */
export interface Context {
  userID: string;
}

export const zql = createBuilder(schema);

// Registers the app's types with Zero, so that hooks, queries and mutators are typed without
// generics (Zero's `DefaultTypes`).
declare module '@rocicorp/zero' {
  interface DefaultTypes {
    schema: Schema;
    context: Context;
  }
}
