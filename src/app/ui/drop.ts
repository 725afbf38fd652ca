/**
 * What the user opened: one image file, or a folder's files (a DICOM series), from the file picker, the folder
 * picker (`webkitdirectory`) or a drop on the view (files, or folders walked through the File and Directory
 * Entries API).
 */
import type { FolderFile } from './dicom.js';

export type Opened = { kind: 'file'; name: string; bytes: Uint8Array } | { kind: 'folder'; name: string; files: FolderFile[] };

/** Sub-folders walked below a dropped folder. */
const MAX_DEPTH = 8;

async function bytesOf(f: File): Promise<Uint8Array> {
  return new Uint8Array(await f.arrayBuffer());
}

/** Files with their paths: one file is an image file; several, or any inside a folder, are a folder. */
async function opened(entries: { path: string; file: File }[]): Promise<Opened | null> {
  if (entries.length === 0) return null;
  const inFolder = entries.some((e) => e.path.includes('/'));
  if (entries.length === 1 && !inFolder) return { kind: 'file', name: entries[0].file.name, bytes: await bytesOf(entries[0].file) };
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const name = inFolder ? entries[0].path.split('/')[0] : 'files';
  const files = await Promise.all(entries.filter((e) => !e.path.split('/').some((p) => p.startsWith('.'))).map(async (e) => ({ path: e.path, bytes: await bytesOf(e.file) })));
  return { kind: 'folder', name, files };
}

/** The files of a file input (the folder picker gives each file's path inside the folder). */
export function fromInput(list: FileList | null): Promise<Opened | null> {
  return opened([...(list ?? [])].map((file) => ({ path: file.webkitRelativePath || file.name, file })));
}

function readEntries(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

function fileOf(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

/** Every file under a dropped entry, with its path from the dropped folder's name. */
async function walk(entry: FileSystemEntry, depth: number, out: { path: string; file: File }[]): Promise<void> {
  if (entry.isFile) {
    out.push({ path: entry.fullPath.replace(/^\/+/, ''), file: await fileOf(entry as FileSystemFileEntry) });
    return;
  }
  if (!entry.isDirectory || depth > MAX_DEPTH) return;
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries answers in batches; an empty batch ends the folder.
  for (let batch = await readEntries(reader); batch.length > 0; batch = await readEntries(reader)) {
    for (const e of batch) await walk(e, depth + 1, out);
  }
}

/** What was dropped: a folder (walked), several files, or one file. */
export async function fromDrop(dt: DataTransfer | null): Promise<Opened | null> {
  if (!dt) return null;
  const entries = [...dt.items].map((i) => i.webkitGetAsEntry?.() ?? null).filter((e): e is FileSystemEntry => e !== null);
  if (!entries.some((e) => e.isDirectory)) return fromInput(dt.files);
  const files: { path: string; file: File }[] = [];
  for (const e of entries) await walk(e, 0, files);
  return opened(files);
}
