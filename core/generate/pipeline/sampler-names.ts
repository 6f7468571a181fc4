// Our sampler names ↔ what A1111 ≥ 1.9 writes in infotext, where the noise schedule is its own
// field ("Sampler: DPM++ 2M, Schedule type: Karras"; older versions wrote "DPM++ 2M Karras").
import { isSamplerName, type SamplerName } from '../../schedulers/index.js';
import type { GenerationParams } from '../infotext.js';

const SCHEDULES = ['Karras'] as const;

/** The infotext `sampler` / `scheduleType` fields for a sampler. */
export function samplerInfotextFields(name: SamplerName): {
  sampler: string;
  scheduleType?: string;
} {
  const schedule = SCHEDULES.find((s) => name.endsWith(` ${s}`));
  return schedule
    ? { sampler: name.slice(0, -schedule.length - 1), scheduleType: schedule }
    : { sampler: name };
}

/**
 * The sampler an infotext names, when we have it ("Automatic" and a missing schedule mean the
 * sampler's default); undefined for samplers we do not implement.
 */
export function samplerFromInfotext(
  info: Pick<GenerationParams, 'sampler' | 'scheduleType'>,
): SamplerName | undefined {
  if (!info.sampler) return undefined;
  const schedule = info.scheduleType;
  const name = schedule && schedule !== 'Automatic' ? `${info.sampler} ${schedule}` : info.sampler;
  return isSamplerName(name) ? name : undefined;
}
