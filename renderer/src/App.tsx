import { useEffect, useState, type ComponentType } from 'react';
import { TransportProvider, useApiQuery } from './api';
import { ErrorBoundary } from './components/ErrorBoundary';
import { StatusBar } from './components/StatusBar';
import { NotificationsProvider } from './notifications';
import { ROUTES, hashFor, routeFromHash, type RouteId } from './routes';
import { DatasetsScreen } from './screens/DatasetsScreen';
import { GenerateScreen } from './screens/GenerateScreen';
import { HistoryScreen } from './screens/HistoryScreen';
import { LibraryScreen } from './screens/LibraryScreen';
import { ModelsScreen } from './screens/ModelsScreen';
import { SettingsScreen } from './screens/SettingsScreen';
import { TrainScreen } from './screens/TrainScreen';
import type { Transport } from './transport';

const SCREENS: Record<RouteId, ComponentType> = {
  datasets: DatasetsScreen,
  train: TrainScreen,
  generate: GenerateScreen,
  models: ModelsScreen,
  library: LibraryScreen,
  history: HistoryScreen,
  settings: SettingsScreen,
};

function useRoute(): RouteId {
  const [route, setRoute] = useState(() => routeFromHash(window.location.hash));
  useEffect(() => {
    const onHashChange = () => setRoute(routeFromHash(window.location.hash));
    window.addEventListener('hashchange', onHashChange);
    return () => window.removeEventListener('hashchange', onHashChange);
  }, []);
  return route;
}

/** Follows the `theme` setting: `system` leaves it to the OS (prefers-color-scheme). */
function ThemeFromSettings() {
  const settings = useApiQuery('settings.get', {}, ['settings']);
  const theme = settings.data?.theme;
  useEffect(() => {
    const root = document.documentElement;
    if (theme === 'light' || theme === 'dark') root.dataset.theme = theme;
    else delete root.dataset.theme;
  }, [theme]);
  return null;
}

function Shell() {
  const route = useRoute();
  const Screen = SCREENS[route];
  return (
    <div className="app">
      <aside className="sidebar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          <span>LoRA Studio</span>
        </div>
        <nav aria-label="Main">
          <ul>
            {ROUTES.map((item) => (
              <li key={item.id}>
                <a
                  href={hashFor(item.id)}
                  data-testid={`nav-${item.id}`}
                  aria-current={item.id === route ? 'page' : undefined}
                >
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </aside>
      <main className="content" data-testid={`screen-${route}`}>
        <ErrorBoundary resetKey={route}>
          <Screen />
        </ErrorBoundary>
      </main>
      <StatusBar />
      <ThemeFromSettings />
    </div>
  );
}

export function App(props: { transport: Transport }) {
  return (
    <TransportProvider transport={props.transport}>
      <NotificationsProvider>
        <Shell />
      </NotificationsProvider>
    </TransportProvider>
  );
}
