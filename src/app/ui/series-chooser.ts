/**
 * Choosing one of the image series of a DICOM folder, as a DICOM browser lets one do (3D Slicer, OHIF): a modal
 * list with each series' modality, description, number of files and sub-folder, the series with the most files
 * selected. Enter or "Open" opens the selected series, a double click opens the one clicked, Esc or "Cancel"
 * opens nothing.
 */
import type { SeriesSummary } from '../../volume/dicom/series.js';

/** The text of one series' entry. */
export function seriesLabel(s: SeriesSummary): string {
  const what = [s.modality || '?', s.description ? `"${s.description}"` : '(no description)'].join(' ');
  return `${what} · ${s.files} file${s.files === 1 ? '' : 's'}${s.folder && s.folder !== '.' ? ` · ${s.folder}` : ''}`;
}

/**
 * Shows the list in the page's `<dialog id="series-dialog">` and resolves with the chosen series' UID, or null
 * when the user cancels. `list` is in the order to show, the first entry selected.
 */
export function chooseSeries(folder: string, list: readonly SeriesSummary[]): Promise<string | null> {
  const dialog = document.getElementById('series-dialog') as HTMLDialogElement;
  const form = dialog.querySelector('form') as HTMLFormElement;
  const items = dialog.querySelector('.series-list') as HTMLElement;
  (dialog.querySelector('.series-folder') as HTMLElement).textContent = `${folder} holds ${list.length} image series:`;
  items.replaceChildren(
    ...list.map((s, i) => {
      const row = document.createElement('label');
      row.className = 'series-item';
      row.title = s.uid;
      const radio = document.createElement('input');
      radio.type = 'radio';
      radio.name = 'series';
      radio.value = s.uid;
      radio.checked = i === 0;
      row.append(radio, document.createTextNode(` ${seriesLabel(s)}`));
      row.addEventListener('dblclick', () => {
        radio.checked = true;
        form.requestSubmit();
      });
      return row;
    }),
  );
  return new Promise((resolve) => {
    const done = (uid: string | null) => {
      form.removeEventListener('submit', onSubmit);
      dialog.removeEventListener('cancel', onCancel);
      (dialog.querySelector('.series-cancel') as HTMLButtonElement).removeEventListener('click', onCancel);
      dialog.close();
      resolve(uid);
    };
    const onSubmit = (ev: Event) => {
      ev.preventDefault();
      const chosen = items.querySelector<HTMLInputElement>('input[name=series]:checked');
      done(chosen ? chosen.value : null);
    };
    const onCancel = (ev: Event) => {
      ev.preventDefault();
      done(null);
    };
    form.addEventListener('submit', onSubmit);
    dialog.addEventListener('cancel', onCancel);
    (dialog.querySelector('.series-cancel') as HTMLButtonElement).addEventListener('click', onCancel);
    dialog.showModal();
    (items.querySelector('input[name=series]:checked') as HTMLInputElement | null)?.focus();
  });
}
