// React glue over the transport: a context, a data hook that refetches when the core
// says rows changed, and a mutation helper that reports failures as toasts.

import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useRef,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from 'react';
import type { ApiEvent, ApiInput, ApiMethodName, ApiOutput, StoreEntity } from '../../core/api';
import type { ConnectionState, Transport } from './transport';

const TransportContext = createContext<Transport | null>(null);

export function TransportProvider(props: { transport: Transport; children: ReactNode }) {
  return (
    <TransportContext.Provider value={props.transport}>{props.children}</TransportContext.Provider>
  );
}

export function useTransport(): Transport {
  const transport = useContext(TransportContext);
  if (!transport) throw new Error('useTransport outside <TransportProvider>');
  return transport;
}

export function useConnection(): ConnectionState {
  const transport = useTransport();
  return useSyncExternalStore(
    (onChange) => transport.onConnectionChange(onChange),
    () => transport.connection(),
  );
}

export function useApiEvents(listener: (event: ApiEvent) => void): void {
  const transport = useTransport();
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => transport.onEvent((event) => latest.current(event)), [transport]);
}

export interface QueryState<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Calls `method` and keeps the result fresh: refetches when a `changed` event names one
 * of `refreshOn`, and after the event stream reconnects (events may have been missed).
 */
export function useApiQuery<M extends ApiMethodName>(
  method: M,
  input: ApiInput<M>,
  refreshOn: readonly StoreEntity[],
): QueryState<ApiOutput<M>> {
  const transport = useTransport();
  const key = `${method} ${JSON.stringify(input)}`;
  const inputRef = useRef(input);
  inputRef.current = input;
  const [version, setVersion] = useState(0);
  const [state, setState] = useState<{
    key: string;
    data?: ApiOutput<M>;
    error?: Error;
    loading: boolean;
  }>({ key, loading: true });

  useEffect(() => {
    let cancelled = false;
    setState((previous) => ({ ...previous, key, loading: true }));
    transport.call(method, inputRef.current).then(
      (data) => !cancelled && setState({ key, data, loading: false }),
      (error: unknown) =>
        !cancelled &&
        setState((previous) => ({
          key,
          data: previous.key === key ? previous.data : undefined,
          error: error instanceof Error ? error : new Error(String(error)),
          loading: false,
        })),
    );
    return () => {
      cancelled = true;
    };
  }, [transport, method, key, version]);

  const entities = refreshOn.join(',');
  useEffect(() => {
    const watched = new Set(entities.split(','));
    return transport.onEvent((event) => {
      if (event.status === 'changed' && watched.has(event.entity)) setVersion((v) => v + 1);
    });
  }, [transport, entities]);

  useEffect(() => {
    let previous = transport.connection();
    return transport.onConnectionChange((next) => {
      if (next === 'connected' && previous !== 'connected') setVersion((v) => v + 1);
      previous = next;
    });
  }, [transport]);

  const reload = useCallback(() => setVersion((v) => v + 1), []);
  const current = state.key === key;
  return {
    data: current ? state.data : undefined,
    error: current ? state.error : undefined,
    loading: !current || state.loading,
    reload,
  };
}
