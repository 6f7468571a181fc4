// What the Train screen calls each run status.
import type { RunStatus } from '../../core/api';

export const RUN_STATUS_LABEL: Record<RunStatus, string> = {
  draft: 'Draft',
  queued: 'Queued',
  running: 'Running',
  paused: 'Paused',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
  interrupted: 'Interrupted',
};
