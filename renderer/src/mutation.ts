import { useCallback, useState } from 'react';
import { useNotify } from './notifications';

/**
 * Runs a change against the core with a busy flag; a failure becomes an error toast
 * titled `failureTitle` and the promise resolves to undefined.
 */
export function useMutation(): {
  busy: boolean;
  run: <T>(failureTitle: string, action: () => Promise<T>) => Promise<T | undefined>;
} {
  const notify = useNotify();
  const [busy, setBusy] = useState(false);
  const run = useCallback(
    async <T>(failureTitle: string, action: () => Promise<T>): Promise<T | undefined> => {
      setBusy(true);
      try {
        return await action();
      } catch (error) {
        notify.error(failureTitle, error);
        return undefined;
      } finally {
        setBusy(false);
      }
    },
    [notify],
  );
  return { busy, run };
}
