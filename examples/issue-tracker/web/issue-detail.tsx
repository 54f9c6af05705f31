import {useEffect, useState, type FormEvent} from 'react';
import type {MutatorResult} from '@rocicorp/zero';
import {useQuery, useZero} from '@rocicorp/zero/react';
import {mutators} from '../shared/mutators';
import {queries} from '../shared/queries';

/** One issue: edit its title and description, close or reopen it, label it, comment on it. */
export function IssueDetail({id}: {id: string}) {
  const zero = useZero();
  const [issue, result] = useQuery(queries.issueDetail({id}));
  const [labels] = useQuery(queries.labels());
  const [error, setError] = useState<string | null>(null);

  if (!issue) {
    return <p className="empty">{result.type === 'complete' ? 'No such issue.' : 'Loading…'}</p>;
  }
  /** Shows the API server's verdict on a write (the client already applied it). */
  const run = async (write: MutatorResult) => {
    const outcome = await write.server;
    setError(outcome.type === 'error' ? outcome.error.message : null);
  };
  const has = new Set(issue.labels.map((l) => l.id));
  return (
    <section className="detail" aria-label="Issue">
      <EditableText
        key={`title-${issue.id}`}
        label="Title"
        value={issue.title}
        onSave={(title) => run(zero.mutate(mutators.issue.update({id, title})))}
      />
      <p className="meta">
        Opened by {issue.creator?.name} · {issue.open ? 'open' : 'closed'}{' '}
        <button onClick={() => run(zero.mutate(mutators.issue.update({id, open: !issue.open})))}>
          {issue.open ? 'Close issue' : 'Reopen issue'}
        </button>
      </p>
      <EditableText
        key={`description-${issue.id}`}
        label="Description"
        multiline
        value={issue.description}
        onSave={(description) => run(zero.mutate(mutators.issue.update({id, description})))}
      />
      <div className="labels">
        {labels.map((l) => (
          <button
            key={l.id}
            className={has.has(l.id) ? 'label on' : 'label'}
            aria-pressed={has.has(l.id)}
            onClick={() =>
              run(zero.mutate(mutators.issue.toggleLabel({issueID: id, labelID: l.id})))
            }
          >
            {l.name}
          </button>
        ))}
      </div>
      {error && <p className="error">{error}</p>}
      <h3>Comments</h3>
      <ul aria-label="Comments" className="comments">
        {issue.comments.map((c) => (
          <li key={c.id}>
            <b>{c.creator?.name}</b> {c.body}
          </li>
        ))}
      </ul>
      <CommentForm
        onAdd={(body) =>
          run(zero.mutate(mutators.comment.add({id: crypto.randomUUID(), issueID: id, body})))
        }
      />
    </section>
  );
}

function EditableText(props: {
  label: string;
  value: string;
  multiline?: boolean;
  onSave: (v: string) => void;
}) {
  const [draft, setDraft] = useState(props.value);
  // Someone else's edit replaces the draft unless this user is in the middle of one.
  const [editing, setEditing] = useState(false);
  useEffect(() => {
    if (!editing) setDraft(props.value);
  }, [props.value, editing]);
  const save = (e: FormEvent) => {
    e.preventDefault();
    setEditing(false);
    if (draft !== props.value) props.onSave(draft);
  };
  const Input = props.multiline ? 'textarea' : 'input';
  return (
    <form onSubmit={save} className={`editable ${props.label.toLowerCase()}`}>
      <Input
        aria-label={props.label}
        value={draft}
        onFocus={() => setEditing(true)}
        onChange={(e) => setDraft(e.target.value)}
      />
      {editing && <button type="submit">Save {props.label.toLowerCase()}</button>}
    </form>
  );
}

function CommentForm({onAdd}: {onAdd: (body: string) => void}) {
  const [body, setBody] = useState('');
  return (
    <form
      className="comment-form"
      onSubmit={(e) => {
        e.preventDefault();
        onAdd(body);
        setBody('');
      }}
    >
      <input aria-label="Comment" value={body} onChange={(e) => setBody(e.target.value)} />
      <button type="submit" disabled={!body.trim()}>
        Comment
      </button>
    </form>
  );
}
