/** Command-line parsing shared by the subcommands: the usage text, flag parsing and common flags. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseKeySliceList } from '../annotations/build.js';
import type { InputFiles } from '../pipeline/inputs-node.js';
import type { ReadVolumeOptions } from '../volume/io-node.js';
import { allEngineNames } from '../pipeline/engines-node.js';
import { DEFAULT_ENGINE } from '../pipeline/segment.js';
import { KeysliceError } from '../util/errors.js';
import type { SliceAxis } from '../volume/volume.js';

export const VERSION = '0.1.0';

export const USAGE = `keyslice ${VERSION}: from a few annotated key slices to a full 3D segmentation

Usage:
  keyslice segment --image IMG (--annotations SPARSE --key-slices LIST | --prompts FILE | both)
                   --out OUT.nii.gz [--slice-axis N] [--engine NAME] [--model DIR] [--range FIRST:LAST]
                   [--post STEP[,STEP...] | --post none] [--report R.json] [--quiet]
                   [--window auto|PRESET|LOW:HIGH] [--execution-provider EP[,EP...]]
                   [--embedding-cache DIR [--embedding-cache-gb N]] [--series UID] [--allow-gaps] [--adapter DIR] [--sam-mosaic N] [--format volume|seg-nrrd|dicom-seg]
                   [--label-names V=NAME[:#RRGGBB],...] [--mesh DIR [--mesh-format stl,obj] [--smooth N] [--decimate F]]
  keyslice train   --data DIR --out ADAPTER_DIR [--dataset NAME] [--mode self-supervised|supervised|residual]
                   [--engine sam|hybrid] [--model DIR] [--embedding-cache DIR [--embedding-cache-gb N]] (residual)
                   [--validation ID[,ID...]] [--exclude ID[,ID...]] [--seed N] [--max-steps N] [--quiet]
  keyslice score   --pred P --gt G [--label L[,L...]] [--tolerance MM] [--json]
  keyslice mesh    --labels LABELS --out DIR [--mesh-format stl,obj] [--smooth N] [--decimate F]
                   [--label-names V=NAME[:#RRGGBB],...]
  keyslice info    --image IMG [--series UID] [--allow-gaps] [--list-series] [--json]
  keyslice demo    [--out DIR] [--engine NAME]
  keyslice bench   [--data DIR] [--methods M[,M...]] [--datasets D[,D...]] [--budgets 1,2,3,5] [--kinds mask,box,points]
                   [--placements fixed,nested,suggested] [--out DIR] [--adapter DIR] [--sam-mosaic N] [--model DIR]
                   [--loo self-supervised,supervised [--cases ID[,ID...]] [--seed N] [--max-steps N]]
                   [--loo residual [--engine sam|hybrid] [--model DIR] [--embedding-cache DIR [--embedding-cache-gb N]] ...]
  keyslice bench   --scale [--in-plane 128,256,512] [--slices 50,150,300 | --sizes NXxNYxNZ[,...]]
                   [--methods M[,M...]] [--itk-reference] [--out DIR]
  keyslice bench --interactive [--engine NAME] [--edits 5] [--reuse exact|fronts] [--data DIR] [--datasets D[,D...]] [--out DIR]
  keyslice analyze --image IMG [--annotations SPARSE --key-slices LIST | --prompts FILE] [--slice-axis N]
                   [--window auto|PRESET|LOW:HIGH] --out DIR
  keyslice suggest --image IMG [--annotations SPARSE --key-slices LIST | --prompts FILE] [--budget K]
                   [--slice-axis N] [--engine NAME] [--model DIR] [--range FIRST:LAST] [--json]
  keyslice batch submit (--manifest M | --folder DIR) --out DIR [--engine NAME] [--model DIR] [--window W]
                   [--post STEPS] [--attempts N] [--backoff MS] [--retry-failed] [--json]
  keyslice batch worker [--concurrency N] [--until-empty] [--lock-duration MS] [--stalled-interval MS]
                   [--max-stalled N] [--name NAME]
  keyslice batch status [--json]
  keyslice batch report [--format json|csv] [--out FILE]
                   (every batch command: [--redis URL (default redis://127.0.0.1:6379)] [--queue NAME])
  keyslice serve   [--host 127.0.0.1] [--port 8080] [--token T] [--max-sessions N] [--max-upload-mb M]
                   [--idle-minutes I] [--data DIR] [--workers W] [--engine NAME] [--log]
  keyslice app     --out DIR

Images: NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr), MetaImage (.mha, .mhd), or a DICOM folder (searched
recursively; --series UID picks one of several series). \`keyslice COMMAND --help\` describes one command;
--verbose (any command) shows what third-party libraries printed.
Slice indices and in-plane coordinates are 0-based voxel indices. Engines: ${allEngineNames().join(', ')}
(default ${DEFAULT_ENGINE}; with --model: medsam2 for a "sam2" model, else hybrid); sam and hybrid run a
SAM-format model: the built-in one, or --model DIR holding keyslice-model.json and its ONNX graphs; medsam2 runs
a SAM2-family model exported to --model DIR (see docs/medsam2.md). Execution provider: cpu unless
--execution-provider names others; --embedding-cache DIR keeps sam and hybrid image embeddings
for the next run, in at most --embedding-cache-gb N GiB (default 2; least recently used out); --sam-mosaic N (1-4; default 3 for hybrid, 1 for sam) puts N x N slices of a front into one
encoder input where the object's crop fits a tile (hybrid keeps full-size inputs near each object's key slices:
6, or 2 for a large object, and tiles the rest; spleen CT 19 -> 5 encoder runs, Dice -0.001; --sam-mosaic 1:
one slice per input). --adapter DIR adds a trained adapter (keyslice train) to the engine it was made for
(hybrid then runs one slice per input);
--loo trains and tests adapters leaving one case out. --range limits propagation to slices FIRST..LAST (inclusive). Post-processing
steps: keep-connected, fill-holes, smooth, continuity (default: all). See README.md for the
prompts file format and the report.
`;

export type Values = Record<string, string | boolean | string[] | undefined>;

export function parse(args: string[], options: ParseArgsConfig['options']): Values {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Values;
  } catch (err) {
    throw new KeysliceError('USAGE', `${(err as Error).message}\n\n${USAGE}`);
  }
}

export function need(v: Values, name: string): string {
  const x = v[name];
  if (typeof x !== 'string' || x === '') throw new KeysliceError('USAGE', `--${name} is required\n\n${USAGE}`);
  return x;
}

export function sliceAxis(v: Values): SliceAxis | undefined {
  const x = v['slice-axis'];
  if (x === undefined) return undefined;
  if (x !== '0' && x !== '1' && x !== '2') throw new KeysliceError('USAGE', `--slice-axis must be 0, 1 or 2, got "${String(x)}"`);
  return Number(x) as SliceAxis;
}

export function list(v: Values, name: string): string[] | undefined {
  const x = v[name];
  return typeof x === 'string' ? x.split(',').map((s) => s.trim()).filter((s) => s !== '') : undefined;
}


/** A comma list of which each item must be one of `allowed` (undefined when the flag is absent). */
export function choices<T extends string>(v: Values, name: string, allowed: readonly T[]): T[] | undefined {
  return list(v, name)?.map((x) => {
    if (!(allowed as readonly string[]).includes(x)) throw new KeysliceError('USAGE', `--${name} must be ${allowed.join(' and/or ')}, got "${x}"`);
    return x as T;
  });
}

/** Flags on how an image is read: which DICOM series, and whether gaps between slices are resampled. */
export const READ_FLAGS = {
  series: { type: 'string' },
  'allow-gaps': { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];

/** The read options of {@link READ_FLAGS}. */
export function readOptions(v: Values): ReadVolumeOptions {
  return { dicom: { series: v.series as string | undefined, allowGaps: !!v['allow-gaps'] } };
}

/** Flags naming the image and its annotations (`segment`, `analyze`, `suggest`). */
export const INPUT_FLAGS = {
  ...READ_FLAGS,
  image: { type: 'string' },
  annotations: { type: 'string' },
  'key-slices': { type: 'string' },
  prompts: { type: 'string' },
  'slice-axis': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

/** The input files named by {@link INPUT_FLAGS}. */
export function inputFiles(v: Values): InputFiles {
  return {
    image: need(v, 'image'),
    annotations: v.annotations as string | undefined,
    keySlices: typeof v['key-slices'] === 'string' ? parseKeySliceList(v['key-slices']) : undefined,
    prompts: v.prompts as string | undefined,
    axis: sliceAxis(v),
    read: readOptions(v),
  };
}
