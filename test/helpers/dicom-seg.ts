/** DICOM SEG read back for tests: through @itk-wasm/dicom and through dcmjs, checked against the labels written. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import dcmjs from 'dcmjs';
import { readDicomSeg } from '../../src/volume/dicom/seg-node.js';
import { placeOnGrid } from '../../src/volume/lattice.js';
import type { LabelArray, Volume } from '../../src/volume/volume.js';

export interface SegReadBack {
  segments: { number: number; label: string; rgb: number[] }[];
  referencedSeries: string[];
  /** Voxels per segment number. */
  voxels: Map<number, number>;
  orientation: number[];
  spacing: number[];
  positions: number[][];
}

/** Reads a DICOM SEG with dcmjs: segments, referenced series, voxel counts from the packed frames, geometry. */
export function readSegWithDcmjs(file: string): SegReadBack {
  const { DicomMessage, DicomMetaDictionary } = dcmjs.data;
  const buf = readFileSync(file);
  const dict = DicomMessage.readFile(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const ds = DicomMetaDictionary.naturalizeDataset(dict.dict);
  const arr = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
  const segments = arr(ds.SegmentSequence).map((s: Record<string, unknown>) => ({
    number: Number(s.SegmentNumber),
    label: String(s.SegmentLabel),
    rgb: dcmjs.data.Colors.dicomlab2RGB((s.RecommendedDisplayCIELabValue as number[]).map(Number)).map((c: number) => Math.round(c * 255)),
  }));
  const referencedSeries = arr(ds.ReferencedSeriesSequence).map((r: Record<string, unknown>) => String(r.SeriesInstanceUID));
  const rows = Number(ds.Rows);
  const cols = Number(ds.Columns);
  const frames = arr(ds.PerFrameFunctionalGroupsSequence) as Record<string, unknown>[];
  const pixels = new Uint8Array(arr(ds.PixelData)[0] as ArrayBuffer);
  const voxels = new Map<number, number>();
  const positions: number[][] = [];
  frames.forEach((fr, k) => {
    const seg = Number((arr(fr.SegmentIdentificationSequence)[0] as Record<string, unknown>).ReferencedSegmentNumber);
    positions.push((arr(fr.PlanePositionSequence)[0] as Record<string, unknown>).ImagePositionPatient as number[]);
    let n = 0;
    for (let i = 0; i < rows * cols; i++) {
      const bit = k * rows * cols + i;
      if (pixels[bit >> 3] & (1 << (bit & 7))) n++;
    }
    voxels.set(seg, (voxels.get(seg) ?? 0) + n);
  });
  const shared = arr(ds.SharedFunctionalGroupsSequence)[0] as Record<string, unknown>;
  const orientation = ((arr(shared.PlaneOrientationSequence)[0] as Record<string, unknown>).ImageOrientationPatient as number[]).map(Number);
  const spacing = ((arr(shared.PixelMeasuresSequence)[0] as Record<string, unknown>).PixelSpacing as number[]).map(Number);
  return { segments, referencedSeries, voxels, orientation, spacing, positions: positions.map((p) => p.map(Number)) };
}

export function countLabels(data: ArrayLike<number>): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i < data.length; i++) if (data[i]) m.set(data[i], (m.get(data[i]) ?? 0) + 1);
  return m;
}

/** Checks a DICOM SEG against the label volume it was written from, through both readers. */
export async function checkSeg(file: string, labels: Volume<LabelArray>, infos: { value: number; name: string; color: number[] }[], series?: string): Promise<void> {
  const itk = await readDicomSeg(file);
  const placed = placeOnGrid(itk.labels, labels, file);
  assert.deepEqual(Array.from(placed.volume.data), Array.from(labels.data), '@itk-wasm/dicom reads back the same labels');
  assert.deepEqual(itk.segments.map((s) => [s.value, s.name, s.color]), infos.map((l) => [l.value, l.name, l.color]));
  const d = readSegWithDcmjs(file);
  assert.deepEqual(d.segments.map((s) => [s.number, s.label]), infos.map((l) => [l.value, l.name]));
  d.segments.forEach((s, i) => s.rgb.forEach((c, j) => assert.ok(Math.abs(c - infos[i].color[j]) <= 2, `colour ${s.rgb} vs ${infos[i].color}`)));
  assert.deepEqual(d.voxels, countLabels(labels.data), 'dcmjs counts the same voxels per segment');
  const dir = labels.direction;
  d.orientation.forEach((x, i) => assert.ok(Math.abs(x - dir[(i % 3) * 3 + Math.floor(i / 3)]) < 1e-5, 'orientation'));
  assert.ok(Math.abs(d.spacing[0] - labels.spacing[1]) < 1e-5 && Math.abs(d.spacing[1] - labels.spacing[0]) < 1e-5, 'pixel spacing');
  for (const p of d.positions) {
    // every frame lies on a slice of the label grid
    const rel = [0, 1, 2].map((r) => p[r] - labels.origin[r]);
    const k = (dir[2] * rel[0] + dir[5] * rel[1] + dir[8] * rel[2]) / labels.spacing[2];
    assert.ok(Math.abs(k - Math.round(k)) < 1e-3, `frame at ${p} is on a slice`);
  }
  if (series) assert.deepEqual(d.referencedSeries, [series]);
}
