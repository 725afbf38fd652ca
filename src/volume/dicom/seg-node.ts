/**
 * DICOM Segmentation objects (Node), through @itk-wasm/dicom (dcmqi): writing one segment per label with its name
 * and colour, referencing the DICOM series the image came from; reading one back as a label volume with its
 * segments' names and colours, on the grid of its frames.
 */
import * as path from 'node:path';
import type { Image } from 'itk-wasm';
import { readSegmentationNode, writeSegmentationNode } from '@itk-wasm/dicom';
import { KeysliceError } from '../../util/errors.js';
import { quietly, thirdPartyMessage } from '../../util/quiet.js';
import type { LabelInfo, Rgb } from '../../labels/label-table.js';
import { toItkImage } from '../itk-image.js';
import { allocLabels, type LabelArray, type Vec3, type Volume } from '../volume.js';
import { segLabelImage, segMetaInfo } from './seg.js';

export { segLabelImage, segMetaInfo };

/**
 * Writes `labels` as a DICOM SEG to `file`, one segment per entry of `infos` (segment numbers 1..n in that
 * order), referencing `referenceFiles` (the image's DICOM series, same grid). Returns notes for the user.
 */
export async function writeDicomSeg(
  labels: Volume<LabelArray>,
  infos: readonly LabelInfo[],
  file: string,
  referenceFiles: string[],
  /** The file name for messages (default `file`). */
  shownAs = file,
): Promise<string[]> {
  const { image: segLabels, notes } = segLabelImage(labels, infos, shownAs);
  const image = toItkImage(segLabels);
  const meta = segMetaInfo(infos);
  await quietly(() => writeSegmentationNode(image, meta as never, path.resolve(file), { refDicomSeries: referenceFiles.map((r) => path.resolve(r)), useLabelidAsSegmentnumber: true }));
  return notes;
}

export interface DicomSeg {
  labels: Volume<LabelArray>;
  segments: LabelInfo[];
}

interface SegAttribute {
  labelID?: number;
  SegmentLabel?: string;
  SegmentDescription?: string;
  recommendedDisplayRGBValue?: number[];
}

/** Reads a DICOM SEG as a label volume (label value = segment number) on the grid of its frames. */
export async function readDicomSeg(file: string): Promise<DicomSeg> {
  let segImage: Image;
  let metaInfo: unknown;
  try {
    ({ segImage, metaInfo } = await quietly(() => readSegmentationNode(path.resolve(file))));
  } catch (err) {
    throw new KeysliceError('FILE_UNREADABLE', `not a readable DICOM SEG (${thirdPartyMessage(err)})`, file, { cause: err });
  }
  const groups = ((metaInfo as { segmentAttributes?: SegAttribute[][] }).segmentAttributes ?? []).flat();
  const segments: LabelInfo[] = groups
    .filter((g) => Number.isInteger(g.labelID) && (g.labelID as number) > 0)
    .map((g) => ({
      value: g.labelID as number,
      name: g.SegmentLabel ?? g.SegmentDescription ?? `segment_${g.labelID}`,
      color: (g.recommendedDisplayRGBValue?.length === 3 ? g.recommendedDisplayRGBValue : [128, 128, 128]) as Rgb,
    }))
    .sort((a, b) => a.value - b.value);
  const raw = segImage.data as ArrayLike<number> | null;
  if (!raw) throw new KeysliceError('FILE_UNREADABLE', 'DICOM SEG holds no frames', file);
  const n = segImage.size[0] * segImage.size[1] * (segImage.size[2] ?? 1);
  const max = Math.max(1, ...segments.map((s) => s.value));
  const data = allocLabels(n, max);
  for (let i = 0; i < n; i++) data[i] = raw[i];
  const dim = segImage.imageType.dimension;
  const direction = [0, 1, 2].flatMap((r) => [0, 1, 2].map((c) => (r < dim && c < dim ? Number(segImage.direction[r * dim + c]) : r === c ? 1 : 0)));
  const pad = (v: ArrayLike<number>, fill: number) => [0, 1, 2].map((i) => (i < v.length ? Number(v[i]) : fill)) as Vec3;
  return {
    labels: { size: pad(segImage.size, 1), spacing: pad(segImage.spacing, 1), origin: pad(segImage.origin, 0), direction, data },
    segments,
  };
}
