/**
 * Reading the inputs every file-level command shares (Node): the image, and optionally its annotations (a sparse
 * label volume with its key-slice list, and/or a prompts file), validated before anything is computed.
 */
import { promises as fsp } from 'node:fs';
import { buildAnnotations } from '../annotations/build.js';
import { parsePromptsText, type PromptsFile } from '../annotations/prompts.js';
import type { Annotations } from '../annotations/types.js';
import { KeysliceError } from '../util/errors.js';
import { readLabelVolume, readVolume, type ReadVolumeOptions } from '../volume/io-node.js';
import { defaultSliceAxis, type SliceAxis, type Volume } from '../volume/volume.js';

export interface InputFiles {
  image: string;
  /** Sparse label volume on the image grid. */
  annotations?: string;
  /** Key slices of the sparse volume (required with `annotations`). */
  keySlices?: number[] | 'auto';
  prompts?: string;
  axis?: SliceAxis;
  read?: ReadVolumeOptions;
}

export interface Inputs {
  image: Volume;
  /** Null when no annotation was given (allowed only with `optional`). */
  annotations: Annotations | null;
  /** The slice axis: the annotations', else the one given, else the default for the image's spacing. */
  axis: SliceAxis;
  warnings: string[];
  /** Every input file, to protect from being overwritten. */
  files: string[];
}

/** Checks the flags' combination; `optional` allows no annotation at all. */
export function checkInputFiles(opts: InputFiles, optional = false): string[] {
  if (!optional && !opts.annotations && !opts.prompts) {
    throw new KeysliceError('USAGE', 'give --annotations SPARSE --key-slices LIST, --prompts FILE, or both');
  }
  if (opts.annotations && opts.keySlices === undefined) {
    throw new KeysliceError('USAGE', '--annotations needs --key-slices (a list such as 3,9,15, or "auto")');
  }
  return [opts.image, opts.annotations, opts.prompts].filter((x): x is string => !!x);
}

/** Reads and parses a prompts file, naming it in every error. */
export async function readPromptsFile(file: string): Promise<PromptsFile> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    throw new KeysliceError('FILE_NOT_FOUND', 'no such prompts file', file);
  }
  return parsePromptsText(text, file);
}

/**
 * Reads the image and builds the annotations; `onStage` hears what is being read. Call {@link checkInputFiles}
 * first (and check the outputs) so that nothing is read for a command that cannot run.
 */
export async function readInputs(opts: InputFiles, onStage: (message: string) => void = () => {}): Promise<Inputs> {
  const files = [opts.image, opts.annotations, opts.prompts].filter((x): x is string => !!x);
  const promptsDoc = opts.prompts ? await readPromptsFile(opts.prompts) : undefined;
  onStage(`reading ${opts.image}`);
  const notes: string[] = [];
  const image = await readVolume(opts.image, { ...opts.read, notes });
  const sparse = opts.annotations ? await readLabelVolume(opts.annotations, { ...opts.read, dicom: undefined }) : undefined;
  if (!sparse && !promptsDoc) {
    return { image, annotations: null, axis: opts.axis ?? defaultSliceAxis(image.spacing), warnings: notes, files };
  }
  const built = buildAnnotations(image, {
    sparse: sparse && opts.annotations ? { volume: sparse, file: opts.annotations, keySlices: opts.keySlices ?? 'auto' } : undefined,
    prompts: promptsDoc && opts.prompts ? { doc: promptsDoc, file: opts.prompts } : undefined,
    axis: opts.axis,
    imageFile: opts.image,
  });
  const { annotations } = built;
  onStage(
    `${annotations.labels.length} label(s) on slice axis ${annotations.axis}: ` +
      annotations.labels.map((l) => `${l.value} (key slices ${l.keySlices.map((k) => (k.empty ? `${k.index}∅` : k.index)).join(',')})`).join('; '),
  );
  return { image, annotations, axis: annotations.axis, warnings: [...notes, ...built.warnings], files };
}
