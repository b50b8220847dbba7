// The usage bar above "My files" (quotas, issue 25): what `GET /v1/me` says the user stores,
// against their limits. `/v1/me` has no `usage` while quotas are off: then no bar at all. An
// unset limit is unlimited (the figure alone is shown); the bar turns to its warning style at
// 90% of a limit and says "over quota" at or past one, when stsvend refuses write keys.
import { el, fmtBytes } from './page';

/** `usage` in `GET /v1/me`'s answer. */
export interface Usage {
  bytes: number;
  objects: number;
  limit_bytes?: number | null;
  limit_objects?: number | null;
  /** The newest event or listing counted (RFC 3339). */
  as_of?: string;
}

export type Level = 'ok' | 'warning' | 'over';

/** At this share of a limit the bar warns (as stsvend's X-Stsvend-Quota-Warning does). */
export const WARN_AT = 0.9;

/** The share of `limit` that `used` is (0 when unlimited), and its level. */
function share(used: number, limit?: number | null): { fraction: number; level: Level } {
  if (limit === undefined || limit === null) return { fraction: 0, level: 'ok' };
  const fraction = limit === 0 ? (used > 0 ? Infinity : 1) : used / limit;
  const level: Level = used >= limit ? 'over' : fraction >= WARN_AT ? 'warning' : 'ok';
  return { fraction, level };
}

const worst = (a: Level, b: Level): Level =>
  a === 'over' || b === 'over' ? 'over' : a === 'warning' || b === 'warning' ? 'warning' : 'ok';

/** What the bar shows for `u`: its text, how full (0-1, of the fuller limit) and its level. */
export function usageView(u: Usage): { text: string; fill: number; level: Level } {
  const b = share(u.bytes, u.limit_bytes);
  const o = share(u.objects, u.limit_objects);
  const level = worst(b.level, o.level);
  const bytes = u.limit_bytes == null ? fmtBytes(u.bytes) : `${fmtBytes(u.bytes)} of ${fmtBytes(u.limit_bytes)}`;
  const objects = u.limit_objects == null ? `${u.objects} object(s)` : `${u.objects} of ${u.limit_objects} object(s)`;
  const suffix =
    level === 'over'
      ? ': over quota. Delete files to upload again.'
      : level === 'warning'
        ? ': nearly full.'
        : '';
  return { text: `Using ${bytes}, ${objects}${suffix}`, fill: Math.min(1, Math.max(b.fraction, o.fraction)), level };
}

/** Reads `/v1/me` and shows (or hides) the bar; errors leave it hidden, the page works on. */
export async function showUsage(api: string, token: string): Promise<void> {
  const box = el('usage');
  box.hidden = true;
  const resp = await fetch(`${api.replace(/\/$/, '')}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  if (!resp.ok) return;
  const me: { usage?: Usage | null } = await resp.json();
  if (!me.usage) return;
  const view = usageView(me.usage);
  el('usage-text').textContent = view.text;
  el('usage-fill').style.width = `${Math.round(view.fill * 100)}%`;
  box.dataset.level = view.level;
  box.title = me.usage.as_of ? `as of ${me.usage.as_of}` : '';
  box.hidden = false;
}
