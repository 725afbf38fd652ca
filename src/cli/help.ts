/**
 * `keyslice <command> --help`: the command's usage lines from the main usage text, plus what its options mean.
 * A command without its own notes still gets its usage lines.
 */
import { USAGE } from './args.js';

/** Per-command notes shown under the usage lines. */
export const COMMAND_NOTES: Record<string, string> = {
  segment: `Segments the image from the annotated key slices and writes the label volume to --out.
Reading: --series UID picks one series of a DICOM folder (keyslice info --image DIR --list-series lists them);
--allow-gaps accepts a DICOM series with missing slices or uneven steps by resampling it onto even slices.
Output: by name (.nii.gz, .nii, .nrrd, .mha: a label volume with OUT.ctbl and OUT.itksnap.txt beside it;
.seg.nrrd: a 3D Slicer segmentation; .dcm: a DICOM SEG) or --format volume|seg-nrrd|dicom-seg. Label names and
colours: the prompts file's, the annotation file's, or --label-names 1=spleen,2=lesion:#ff8000.
--mesh DIR also writes one surface per label (see keyslice mesh --help).
--verbose shows what third-party libraries printed.`,
  mesh: `Writes one closed surface per label of a label volume (any image format, .seg.nrrd or DICOM SEG) into --out:
VALUE_NAME.stl (binary) and/or .obj (--mesh-format stl,obj; default stl), in mm in the LPS frame (ITK, DICOM,
and 3D Slicer's default for models: the STL header says SPACE=LPS). Marching cubes at the label's boundary;
--smooth N runs N windowed-sinc smoothing iterations (10 to 30 is gentle); --decimate F merges vertices in
cells of F times the smallest spacing (2 roughly halves the triangles). Names: --label-names, else the file's
segments, else the .ctbl beside the labels.`,
  score: `Compares a predicted label volume with a reference on the same grid: Dice, IoU, HD95, ASSD, NSD, volume
difference per label. Exits 3 when an input cannot be read or the grids differ.`,
  batch: `Segments many studies through a job queue on Redis (BullMQ): submit studies from a manifest or a folder,
run workers on any number of machines, follow progress and failures with status, collect results with report.
A study is submitted once (its job id hashes its inputs, engine, options and keyslice's version); a study with a
bad input fails once with its named error; a dead worker's study is taken over by another worker.`,
  train: `Trains an adapter on the cases of a dataset (keyslice-dataset.json, as bench reads it) and writes it to
--out: an ONNX graph and keyslice-adapter.json. self-supervised (default) learns slice-to-slice correspondence
from the images alone; supervised also from the label volumes. Both are for the classic engine (their carried
mask joins its cuts) or, with --engine sam or hybrid, for a model engine (it joins the decoder's logits). residual
learns a correction of a SAM-format model's decoder logits from the label volumes, for --engine sam or hybrid
(default sam). A model engine runs the built-in model or --model DIR; --embedding-cache DIR keeps the model's
image embeddings for the next run (--embedding-cache-gb N: its size limit, default 2 GiB). The last case (or
--validation) is held out: the engine runs it as segment does, and the adapter is marked usable only where it
beat the unadapted engine there. Use it with segment --adapter DIR (and the same --engine and --model).`,
  serve: `Serves interactive sessions over HTTP (see README "Server"): the session API, a MONAI Label-compatible
subset, sessions on worker threads, journalled under --data and restored on start. Binds 127.0.0.1; any other
--host needs --token (or KEYSLICE_TOKEN). Over --max-sessions: 503 with Retry-After; over --max-upload-mb: 413;
a session idle for --idle-minutes expires (410).`,
  app: `Writes the annotation app (a static web page: draw key slices, propagate, review, correct, export) into
--out. It runs the engine in the browser, so the scan never leaves the machine; serve the folder with any static
web server (browsers do not run its worker from file://). keyslice serve offers the same app at / on its
sessions.`,
  info: `Prints what keyslice reads from an image: size, spacing, origin, direction (ITK's LPS frame), voxel range.
--list-series lists the DICOM series of a folder (UID, modality, description, files, sub-folder).`,
};

/** The usage lines of `cmd` in the main usage text (the line starting "keyslice CMD" and its continuations). */
export function usageLines(cmd: string): string[] {
  const lines = USAGE.split('\n');
  const out: string[] = [];
  let inside = false;
  for (const line of lines) {
    if (/^ {2}keyslice \S+/.test(line)) inside = line.startsWith(`  keyslice ${cmd} `) || line.trimEnd() === `  keyslice ${cmd}`;
    else if (!/^ {3,}\S/.test(line)) inside = false;
    if (inside) out.push(line);
  }
  return out;
}

/** The help text of one command, or null for an unknown command. */
export function commandHelp(cmd: string): string | null {
  const usage = usageLines(cmd);
  const notes = COMMAND_NOTES[cmd];
  if (usage.length === 0 && notes === undefined) return null;
  return `Usage:\n${usage.join('\n')}\n${notes ? `\n${notes}\n` : ''}\nSee README.md for the file formats.`;
}
