import {useMemo, useState} from 'react';
import {useConnectionState, ZeroProvider} from '@rocicorp/zero/react';
import {mutators} from '../shared/mutators';
import {schema, type Context} from '../shared/schema';
import {IssueDetail} from './issue-detail';
import {IssueList} from './issue-list';
import {UserPicker} from './user-picker';

const cacheURL = import.meta.env.VITE_PUBLIC_ZERO_CACHE_URL;

/**
 * The app shell: one Zero client per signed-in user (ZeroProvider opens and closes it; the user id
 * doubles as the bearer token the demo's API server accepts), the issue list on the left and the
 * selected issue on the right. `?user=<id>` picks the user, so two tabs can be two people.
 */
export function App() {
  const [userID, setUserID] = useState(
    () => new URLSearchParams(location.search).get('user') ?? localStorage.getItem('user') ?? 'ada',
  );
  const signIn = (id: string) => {
    localStorage.setItem('user', id);
    setUserID(id);
  };
  // ZeroProvider makes a new Zero when an option changes identity: keep the context's.
  const context = useMemo<Context>(() => ({userID}), [userID]);
  return (
    // Keyed by the user, so that signing in as someone else starts the app afresh.
    <ZeroProvider
      key={userID}
      cacheURL={cacheURL}
      userID={userID}
      auth={userID}
      schema={schema}
      mutators={mutators}
      context={context}
    >
      <Shell userID={userID} onSignIn={signIn} />
    </ZeroProvider>
  );
}

function Shell({userID, onSignIn}: {userID: string; onSignIn: (id: string) => void}) {
  const [selected, setSelected] = useState<string | null>(null);
  const connection = useConnectionState();
  return (
    <div className="app">
      <header>
        <h1>Issues</h1>
        <span className={`status ${connection.name}`} data-testid="connection">
          {connection.name}
        </span>
        <UserPicker userID={userID} onChange={onSignIn} />
      </header>
      <main>
        <IssueList selected={selected} onSelect={setSelected} />
        {selected ? <IssueDetail id={selected} /> : <p className="empty">Pick an issue.</p>}
      </main>
    </div>
  );
}
