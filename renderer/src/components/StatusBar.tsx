import { useApiQuery, useConnection, useTransport } from '../api';
import type { ConnectionState } from '../transport';

const CONNECTION_TEXT: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  connected: 'Connected',
  disconnected: 'Disconnected — retrying',
};

export function StatusBar() {
  const transport = useTransport();
  const connection = useConnection();
  const info = useApiQuery('system.info', {}, []);
  const settings = useApiQuery('settings.get', {}, ['settings']);

  const installed = info.data?.executionProviders.filter((p) => p.installed).map((p) => p.name);
  let providers: string;
  if (installed) providers = installed.length ? installed.join(' · ') : 'none installed';
  else if (info.error) providers = 'unknown (system info failed)';
  else providers = '…';

  return (
    <footer className="statusbar" data-testid="status-bar" aria-label="Status">
      <span className="status-item" data-testid="status-connection" data-state={connection}>
        <span className={`dot dot-${connection}`} aria-hidden="true" />
        {CONNECTION_TEXT[connection]} · {transport.label}
      </span>
      <span className="status-item" data-testid="status-providers">
        Execution provider: {settings.data?.executionProvider ?? '…'} (available: {providers})
      </span>
      {info.data && <span className="status-item status-end">v{info.data.appVersion}</span>}
    </footer>
  );
}
