// Toasts: successes fade after a few seconds, errors stay until dismissed.

import {
  createContext,
  useCallback,
  useContext,
  useMemo,
  useRef,
  useState,
  type ReactNode,
} from 'react';
import { describeError } from './format';

interface Toast {
  id: number;
  kind: 'error' | 'success';
  title: string;
  detail?: string;
}

export interface Notifier {
  error(title: string, error: unknown): void;
  success(title: string): void;
}

const NotifierContext = createContext<Notifier | null>(null);

const SUCCESS_MS = 4000;

export function NotificationsProvider(props: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const nextId = useRef(1);

  const dismiss = useCallback((id: number) => {
    setToasts((all) => all.filter((toast) => toast.id !== id));
  }, []);

  const notifier = useMemo<Notifier>(() => {
    const push = (toast: Omit<Toast, 'id'>): number => {
      const id = nextId.current++;
      setToasts((all) => [...all.slice(-4), { ...toast, id }]);
      return id;
    };
    return {
      error: (title, error) => void push({ kind: 'error', title, detail: describeError(error) }),
      success: (title) => {
        const id = push({ kind: 'success', title });
        setTimeout(() => dismiss(id), SUCCESS_MS);
      },
    };
  }, [dismiss]);

  return (
    <NotifierContext.Provider value={notifier}>
      {props.children}
      <div className="toasts" aria-live="polite">
        {toasts.map((toast) => (
          <div
            key={toast.id}
            className={`toast toast-${toast.kind}`}
            role={toast.kind === 'error' ? 'alert' : 'status'}
            data-testid={`toast-${toast.kind}`}
          >
            <div className="toast-body">
              <strong>{toast.title}</strong>
              {toast.detail && <p className="toast-detail">{toast.detail}</p>}
            </div>
            <button
              type="button"
              className="icon-button"
              aria-label="Dismiss notification"
              onClick={() => dismiss(toast.id)}
            >
              ×
            </button>
          </div>
        ))}
      </div>
    </NotifierContext.Provider>
  );
}

export function useNotify(): Notifier {
  const notifier = useContext(NotifierContext);
  if (!notifier) throw new Error('useNotify outside <NotificationsProvider>');
  return notifier;
}
