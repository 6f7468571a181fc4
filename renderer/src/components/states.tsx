// Loading, error and empty states, so no screen is ever blank.

import type { ReactNode } from 'react';
import { describeError } from '../format';

export function Loading(props: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {props.what}…
    </p>
  );
}

export function ErrorPanel(props: { title: string; error: unknown; onRetry?: () => void }) {
  return (
    <div className="panel panel-error" role="alert" data-testid="error-panel">
      <strong>{props.title}</strong>
      <p className="preline">{describeError(props.error)}</p>
      {props.onRetry && (
        <button type="button" onClick={props.onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function EmptyState(props: { title: string; children: ReactNode; testId?: string }) {
  return (
    <div className="empty" data-testid={props.testId}>
      <strong>{props.title}</strong>
      <div className="muted">{props.children}</div>
    </div>
  );
}

/** Renders a query's loading/error state, or `children(data)` once it has data. */
export function QueryView<T>(props: {
  query: { data: T | undefined; error: Error | undefined; loading: boolean; reload: () => void };
  what: string;
  children: (data: T) => ReactNode;
}) {
  const { data, error, reload } = props.query;
  if (error && data === undefined) {
    return <ErrorPanel title={`Could not load ${props.what}`} error={error} onRetry={reload} />;
  }
  if (data === undefined) return <Loading what={props.what} />;
  return (
    <>
      {error && (
        <ErrorPanel title={`Could not refresh ${props.what}`} error={error} onRetry={reload} />
      )}
      {props.children(data)}
    </>
  );
}
