import {defineMutator, defineMutators, type Transaction} from '@rocicorp/zero';
import {zql, type Context} from './schema.js';

/**
 * The app's writes. Each runs twice: at once on the client (optimistic), then on the API server
 * (`ZERO_MUTATE_URL`, through zcache) inside a Postgres transaction, where it is authoritative —
 * so the checks that matter (who may edit) are made there too, with the server's clock.
 */
type Tx = Transaction;

function mustBeSignedIn(ctx: Context): string {
  if (!ctx?.userID) throw new Error('sign in first');
  return ctx.userID;
}

export const mutators = defineMutators({
  issue: {
    create: defineMutator(
      async ({
        tx,
        args,
        ctx,
      }: {
        tx: Tx;
        args: {id: string; title: string; description: string};
        ctx: Context;
      }) => {
        const title = args.title.trim();
        if (!title) throw new Error('an issue needs a title');
        const now = Date.now();
        await tx.mutate.issue.insert({
          id: args.id,
          title,
          description: args.description,
          open: true,
          creatorID: mustBeSignedIn(ctx),
          created: now,
          modified: now,
        });
      },
    ),
    update: defineMutator(
      async ({
        tx,
        args,
        ctx,
      }: {
        tx: Tx;
        args: {id: string; title?: string; description?: string; open?: boolean};
        ctx: Context;
      }) => {
        mustBeSignedIn(ctx);
        if (args.title !== undefined && !args.title.trim())
          throw new Error('an issue needs a title');
        await tx.mutate.issue.update({...args, modified: Date.now()});
      },
    ),
    toggleLabel: defineMutator(
      async ({tx, args, ctx}: {tx: Tx; args: {issueID: string; labelID: string}; ctx: Context}) => {
        mustBeSignedIn(ctx);
        const existing = await tx.run(
          zql.issueLabel.where('issueID', args.issueID).where('labelID', args.labelID).one(),
        );
        if (existing) await tx.mutate.issueLabel.delete(args);
        else await tx.mutate.issueLabel.insert(args);
      },
    ),
  },
  comment: {
    add: defineMutator(
      async ({
        tx,
        args,
        ctx,
      }: {
        tx: Tx;
        args: {id: string; issueID: string; body: string};
        ctx: Context;
      }) => {
        if (!args.body.trim()) throw new Error('a comment cannot be empty');
        await tx.mutate.comment.insert({
          ...args,
          creatorID: mustBeSignedIn(ctx),
          created: Date.now(),
        });
        await tx.mutate.issue.update({id: args.issueID, modified: Date.now()});
      },
    ),
  },
});

export type Mutators = typeof mutators;
