// Screens, addressed by the URL hash (`#/datasets`): a reload keeps the screen, and hash
// changes are in-page navigations, which Electron's navigation lock lets through.

export const ROUTES = [
  { id: 'datasets', label: 'Datasets' },
  { id: 'train', label: 'Train' },
  { id: 'generate', label: 'Generate' },
  { id: 'models', label: 'Models' },
  { id: 'library', label: 'Library' },
  { id: 'history', label: 'History' },
  { id: 'settings', label: 'Settings' },
] as const;

export type RouteId = (typeof ROUTES)[number]['id'];

export const DEFAULT_ROUTE: RouteId = 'datasets';

export function routeFromHash(hash: string): RouteId {
  const id = hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return ROUTES.find((route) => route.id === id)?.id ?? DEFAULT_ROUTE;
}

export function hashFor(route: RouteId): string {
  return `#/${route}`;
}
