import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';

/** Project root (tests run from dist/test/...). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The shared real-data folder beside the project, if present. */
export const SHARED_DATA = path.resolve(ROOT, '../shared/data');
export const CLI = path.join(ROOT, 'dist/src/cli/main.js');

export function sharedDataSkip(): string | false {
  return existsSync(SHARED_DATA) ? false : `real data not found at ${SHARED_DATA} (../shared/data): skipped`;
}

/** A fresh temporary folder, removed by the returned cleanup function. */
export function tempDir(prefix = 'keyslice-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Image/label pairs with expert labels in ../shared/data, plus the model-labelled TotalSegmentator files. */
export const SHARED_CASES: { name: string; image: string; label: string }[] = [
  ...['001', '003', '004', '006', '007'].map((id) => ({
    name: `hippocampus_${id}`,
    image: `msd-hippocampus/images/hippocampus_${id}.nii.gz`,
    label: `msd-hippocampus/labels/hippocampus_${id}.nii.gz`,
  })),
  { name: 'spleen', image: 'msd-spleen-crop/spleen_2_crop_ct.nii.gz', label: 'msd-spleen-crop/spleen_2_crop_label.nii.gz' },
  {
    name: 'spinalcord',
    image: 'spinegeneric-spinalcord/sub-unf01_T2w.nii.gz',
    label: 'spinegeneric-spinalcord/sub-unf01_T2w_seg-manual.nii.gz',
  },
  { name: 'mslesion', image: 'openms-mslesion/patient07/FLAIR.nii.gz', label: 'openms-mslesion/patient07/GOLD_STANDARD.nii.gz' },
  { name: 'totalseg-ct', image: 'totalseg-example/example_ct_sm.nii.gz', label: 'totalseg-example/example_seg.nii.gz' },
  { name: 'totalseg-mr', image: 'totalseg-example/example_mr_sm.nii.gz', label: 'totalseg-example/example_seg_mr.nii.gz' },
];

/** Runs the built `keyslice` command line to completion: exit code, stdout and stderr. */
export function runCli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeout?: number } = {},
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
    ...(options.timeout ? { timeout: options.timeout } : {}),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
