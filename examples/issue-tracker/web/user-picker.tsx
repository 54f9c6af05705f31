import {useQuery} from '@rocicorp/zero/react';
import {queries} from '../shared/queries';

export function UserPicker({userID, onChange}: {userID: string; onChange: (id: string) => void}) {
  const [users] = useQuery(queries.users());
  return (
    <label className="user">
      Signed in as{' '}
      <select aria-label="User" value={userID} onChange={(e) => onChange(e.target.value)}>
        {users.length === 0 && <option value={userID}>{userID}</option>}
        {users.map((u) => (
          <option key={u.id} value={u.id}>
            {u.name}
          </option>
        ))}
      </select>
    </label>
  );
}
