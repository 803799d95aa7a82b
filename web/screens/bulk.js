// Bulk delete of a list selection: a few requests at a time, one toast with Undo (restore).
import { plural } from '../util.js';
import { del, post } from '../api.js';
import { announceChange } from '../session.js';
import { toast, reportError } from '../components/toast.js';

export async function eachLimited(ids, n, fn) {
  const results = [];
  let i = 0;
  const worker = async () => {
    while (i < ids.length) {
      const id = ids[i++];
      try { await fn(id); results.push({ id, ok: true }); } catch (error) { results.push({ id, ok: false, error }); }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, ids.length) }, worker));
  return results;
}

/** Deletes ids (to the trash); resolves with the ids that went. Undo restores, then onRestored(). */
export async function deleteMany({ apiPath, entity, singular, ids, onRestored }) {
  const results = await eachLimited(ids, 4, (id) => del(`${apiPath}/${encodeURIComponent(id)}`));
  const done = results.filter((r) => r.ok).map((r) => r.id);
  const errors = results.filter((r) => !r.ok);
  if (done.length) announceChange(entity);
  if (errors.length) reportError(errors[0].error, `Could not delete ${plural(errors.length, singular)}.`);
  if (!done.length) return done;
  undoToast({ apiPath, entity, singular, done, onRestored });
  return done;
}

/** The toast after a delete: Undo restores the records that went, then onRestored(). */
export function undoToast({ apiPath, entity, singular, done, onRestored }) {
  if (!done.length) return;
  toast(`Deleted ${plural(done.length, singular)}.`, {
    kind: 'success',
    action: {
      label: 'Undo',
      run: async () => {
        const back = await eachLimited(done, 4, (id) => post(`${apiPath}/${encodeURIComponent(id)}/restore`));
        const bad = back.filter((r) => !r.ok);
        if (bad.length) reportError(bad[0].error, `Could not restore ${plural(bad.length, singular)}.`);
        else toast(`Restored ${plural(done.length, singular)}.`, { kind: 'success' });
        announceChange(entity);
        onRestored();
      },
    },
  });
}
