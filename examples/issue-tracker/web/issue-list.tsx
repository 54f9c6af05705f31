import {useState, type FormEvent} from 'react';
import {useQuery, useZero} from '@rocicorp/zero/react';
import {mutators} from '../shared/mutators';
import {queries} from '../shared/queries';

type Filter = 'open' | 'closed' | 'all';

/** The filterable list of issues and the form that creates one. */
export function IssueList({
  selected,
  onSelect,
}: {
  selected: string | null;
  onSelect: (id: string) => void;
}) {
  const [filter, setFilter] = useState<Filter>('open');
  const open = filter === 'all' ? null : filter === 'open';
  const [issues, result] = useQuery(queries.issueList({open}));
  return (
    <section className="list">
      <NewIssueForm onCreated={onSelect} />
      <nav>
        {(['open', 'closed', 'all'] as const).map((f) => (
          <button key={f} className={f === filter ? 'active' : ''} onClick={() => setFilter(f)}>
            {f}
          </button>
        ))}
        <span className="count">
          {issues.length} issues{result.type === 'complete' ? '' : ' (syncing…)'}
        </span>
      </nav>
      <ul aria-label="Issues">
        {issues.map((issue) => (
          <li
            key={issue.id}
            className={issue.id === selected ? 'selected' : ''}
            onClick={() => onSelect(issue.id)}
          >
            <span className={issue.open ? 'dot open' : 'dot closed'} />
            <span className="title">{issue.title}</span>
            <span className="meta">
              {issue.labels.map((l) => (
                <span key={l.id} className="label">
                  {l.name}
                </span>
              ))}
              {issue.creator?.name}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function NewIssueForm({onCreated}: {onCreated: (id: string) => void}) {
  const zero = useZero();
  const [title, setTitle] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const id = crypto.randomUUID();
    const write = zero.mutate(mutators.issue.create({id, title, description: ''}));
    setTitle('');
    onCreated(id);
    const outcome = await write.server;
    setError(outcome.type === 'error' ? outcome.error.message : null);
  };
  return (
    <form onSubmit={submit} className="new-issue">
      <input
        aria-label="New issue title"
        placeholder="Something is broken…"
        value={title}
        onChange={(e) => setTitle(e.target.value)}
      />
      <button type="submit" disabled={!title.trim()}>
        Create issue
      </button>
      {error && <p className="error">{error}</p>}
    </form>
  );
}
